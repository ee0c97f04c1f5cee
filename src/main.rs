use clap::Parser;

fn main() {
    let cli = gander::cli::Cli::parse();
    std::process::exit(gander::cli::run(cli));
}
