use std::process::ExitCode;

fn main() -> ExitCode {
    apprentice::cli::main()
}
