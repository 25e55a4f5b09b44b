//! Writes keyhatch(8) and the shell completions (bash, zsh, fish) into a directory, from the
//! same declarations as `--help`, for `make dist`'s archive and packages:
//! `cargo run --features ssr --example docs -- DIR`.

use std::path::PathBuf;
use std::{env, fs, io};

use clap::CommandFactory;
use clap_complete::Shell;
use keyhatch::declared::Cli;

fn main() -> io::Result<()> {
    let Some(dir) = env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: docs DIR");
        std::process::exit(2);
    };
    fs::create_dir_all(dir.join("completions"))?;
    let command = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .section("8")
        .manual("System Administration")
        .render(&mut page)?;
    fs::write(dir.join("keyhatch.8"), page)?;
    for (shell, file) in [
        (Shell::Bash, "keyhatch"),
        (Shell::Zsh, "_keyhatch"),
        (Shell::Fish, "keyhatch.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command.clone(), "keyhatch", &mut script);
        fs::write(dir.join("completions").join(file), script)?;
    }
    Ok(())
}
