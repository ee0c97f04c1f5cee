use clap::Parser;

fn main() {
    // Behave like other Unix tools when the reader goes away (`gander status | head`):
    // die quietly on SIGPIPE instead of panicking on a failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = gander::cli::Cli::parse();
    std::process::exit(gander::cli::run(cli));
}
