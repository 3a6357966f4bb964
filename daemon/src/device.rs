//! Which device the models run on: `--device auto|cpu|cuda[:N]|metal`, parsed,
//! checked against what this build supports, and kept for the whole process.
//!
//! One device per process: the models are loaded lazily into process-wide
//! registries (the stroke transformer, the built-in brush), so the command sets
//! the device once, before any of them loads, and everything reads it from here.

use std::str::FromStr;
use std::sync::OnceLock;

use candle_core::Device;

/// A device as asked for on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// CUDA when built in and a GPU answers, else Metal likewise, else the CPU.
    Auto,
    Cpu,
    /// The CUDA GPU with this ordinal.
    Cuda(usize),
    Metal,
}

impl FromStr for Choice {
    type Err = String;

    fn from_str(s: &str) -> Result<Choice, String> {
        let bad = || format!("unknown device {s:?} (expected auto, cpu, cuda, cuda:N or metal)");
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Choice::Auto),
            "cpu" => Ok(Choice::Cpu),
            "cuda" => Ok(Choice::Cuda(0)),
            "metal" => Ok(Choice::Metal),
            other => match other.strip_prefix("cuda:") {
                Some(n) => n.parse().map(Choice::Cuda).map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }
}

/// The `--device` option, shared by every command that runs a model.
#[derive(clap::Args, Clone, Debug)]
pub struct DeviceArg {
    /// Where the models run: auto (CUDA, else Metal, else the CPU), cpu, cuda, cuda:N or metal.
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    pub device: Choice,
}

impl DeviceArg {
    /// Selects the device and makes it the process's; an unavailable one is an error naming `--device`.
    pub fn apply(&self) -> Result<Device, String> {
        let dev = select(self.device).map_err(|e| format!("--device: {e}"))?;
        set(dev.clone());
        Ok(dev)
    }
}

/// Sets the process's device from a `--device DEVICE` among `args`, the CPU when there is
/// none: the benches take it (`cargo bench -p apprentice --bench brush -- --device cuda`).
pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Device, String> {
    let mut args = args.into_iter();
    let choice = match args.by_ref().find(|a| a == "--device") {
        Some(_) => args.next().ok_or("--device needs a value (auto, cpu, cuda, cuda:N or metal)")?.parse()?,
        None => Choice::Cpu,
    };
    DeviceArg { device: choice }.apply()
}

/// The device for `choice`, or why this build or machine cannot give it.
pub fn select(choice: Choice) -> Result<Device, String> {
    match choice {
        Choice::Cpu => Ok(Device::Cpu),
        Choice::Cuda(n) => cuda(n),
        Choice::Metal => metal(),
        // A build with the feature on a machine without the GPU still runs, on the CPU.
        Choice::Auto => Ok(cuda(0).or_else(|_| metal()).unwrap_or(Device::Cpu)),
    }
}

fn cuda(ordinal: usize) -> Result<Device, String> {
    if !cfg!(feature = "cuda") {
        return Err("this build has no CUDA support; build with --features cuda".into());
    }
    Device::new_cuda(ordinal).map_err(|e| format!("CUDA device {ordinal} is not available: {e}"))
}

fn metal() -> Result<Device, String> {
    if !cfg!(feature = "metal") {
        return Err("this build has no Metal support; build with --features metal".into());
    }
    Device::new_metal(0).map_err(|e| format!("the Metal device is not available: {e}"))
}

fn slot() -> &'static OnceLock<Device> {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    &DEVICE
}

/// Makes `dev` the process's device. Only the first call counts: the models already
/// loaded live on the first device, so a later one could not be honoured.
pub fn set(dev: Device) {
    if slot().set(dev.clone()).is_err() && !current().same_device(&dev) {
        tracing::warn!("the device is already {}; {} ignored", name(&current()), name(&dev));
    }
}

/// The process's device: the CPU until a command sets another.
pub fn current() -> Device {
    slot().get().cloned().unwrap_or(Device::Cpu)
}

/// `cpu`, `cuda:N` or `metal`, as `info` and `GetInfo` say it.
pub fn name(dev: &Device) -> String {
    match dev.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// The GPU back-ends compiled into this build.
pub fn built_in() -> &'static str {
    match (cfg!(feature = "cuda"), cfg!(feature = "metal")) {
        (true, true) => "CUDA and Metal",
        (true, false) => "CUDA",
        (false, true) => "Metal",
        (false, false) => "no GPU back-end",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_bad_ones_are_named() {
        assert_eq!("auto".parse(), Ok(Choice::Auto));
        assert_eq!("CPU".parse(), Ok(Choice::Cpu));
        assert_eq!("cuda".parse(), Ok(Choice::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(Choice::Cuda(3)));
        assert_eq!("metal".parse(), Ok(Choice::Metal));
        for bad in ["", "gpu", "cuda:", "cuda:x", "cuda:-1", "tpu:0"] {
            let e = bad.parse::<Choice>().unwrap_err();
            assert!(e.contains(&format!("{bad:?}")) && e.contains("cuda:N"), "{bad}: {e}");
        }
    }

    #[test]
    fn cpu_and_auto_always_give_a_device() {
        assert!(select(Choice::Cpu).unwrap().is_cpu());
        // Without a GPU back-end built in (CI), auto is the CPU.
        if !cfg!(feature = "cuda") && !cfg!(feature = "metal") {
            assert!(select(Choice::Auto).unwrap().is_cpu());
        }
        assert_eq!(name(&Device::Cpu), "cpu");
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(from_args(args(&["bench", "--bench"])).unwrap().is_cpu());
        assert!(from_args(args(&["bench", "--device", "cpu"])).unwrap().is_cpu());
        assert!(from_args(args(&["bench", "--device"])).unwrap_err().contains("needs a value"));
        assert!(from_args(args(&["bench", "--device", "gpu"])).unwrap_err().contains("\"gpu\""));
    }

    #[test]
    fn a_gpu_this_build_lacks_is_a_clear_error() {
        if !cfg!(feature = "cuda") {
            let e = select(Choice::Cuda(1)).unwrap_err();
            assert_eq!(e, "this build has no CUDA support; build with --features cuda");
            let e = DeviceArg { device: Choice::Cuda(0) }.apply().unwrap_err();
            assert!(e.starts_with("--device: this build has no CUDA support"), "{e}");
        }
        if !cfg!(feature = "metal") {
            assert_eq!(
                select(Choice::Metal).unwrap_err(),
                "this build has no Metal support; build with --features metal"
            );
        }
    }
}
