use std::process::ExitCode;

fn main() -> ExitCode {
    popline::cli::main()
}
