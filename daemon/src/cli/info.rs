//! `apprentice info`: version, folders, devices, models (Stable Diffusion ones too) and painters.

use super::{CliResult, Dirs};
use crate::config::Config;

/// Print the version, where files live, the compute device, models and painters.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    dirs: Dirs,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

pub fn run(args: Args) -> CliResult {
    args.device.apply().map_err(super::CliError::input)?;
    let paths = args.dirs.paths()?;
    let config_file = paths.config_file();
    let config = Config::load(&config_file).map_err(super::CliError::input)?;
    let info = crate::info(Some(&paths.models_dir()), None);
    let painters = crate::painters::all().iter().map(|p| p.name()).collect::<Vec<_>>().join(", ");
    let exists = |p: &std::path::Path| if p.exists() { "" } else { " (not created yet)" };
    println!("apprentice {}", info.version);
    println!("config file: {}{}", config_file.display(), exists(&config_file));
    println!("data folder: {}{}", paths.data_dir.display(), exists(&paths.data_dir));
    println!("sessions:    {}{}", paths.store_file().display(), exists(&paths.store_file()));
    println!("models:      {}{}", paths.models_dir().display(), exists(&paths.models_dir()));
    println!("address:     {}", config.server.address);
    println!("device:      {} (this build: {})", info.device, crate::device::built_in());
    for line in &info.devices {
        println!("  {line}");
    }
    let model = match crate::model::registry::reload_from(&paths.models_dir()) {
        Ok(name) => name,
        Err(e) => format!("default (built in); {e}"),
    };
    println!("model:       {model}");
    let styles = crate::diffusion::style::styles_dir(&paths.data_dir);
    println!(
        "brush:       {} (styles: {}{})",
        crate::diffusion::builtin::NAME,
        styles.display(),
        exists(&styles)
    );
    let sd_dir = paths.models_dir().join(crate::diffusion::sd::DIR);
    let sd = &info.brush_models[1..];
    println!(
        "sd models:   {}{} (in {}; paint prompts with one: --brush-model NAME)",
        if sd.is_empty() { "none" } else { "" },
        sd.join(", "),
        sd_dir.display()
    );
    println!(
        "painters:    {painters} (default: {}; in copy mode: {})",
        crate::painters::default_name(false),
        crate::painters::default_name(true)
    );
    Ok(())
}
