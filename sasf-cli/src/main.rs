//! `sasf`: the command line of the SASF toolkit. Every real operation is a call into
//! `sasf-core`; this crate parses arguments, opens files and pipes, and prints.
//!
//! Exit codes: 0 success; 1 the SASF input failed verification; 2 the command could
//! not run (bad arguments, unreadable input, missing key, bad WAV or metadata, I/O, an
//! output refused to protect data). A closed stdout is not a failure: exit 0.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod io;
mod output;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use cli::{Cli, Command, KeysCommand};

fn run(cli: Cli) -> Result<ExitCode> {
    let q = cli.quiet;
    io::set_threads(cli.threads);
    io::set_fsync(cli.fsync);
    match cli.command {
        Command::Keygen {
            output,
            x25519,
            signing,
        } => commands::keygen::run(&output, x25519, signing)?,
        Command::Pack {
            input,
            output,
            meta,
            encrypt,
            recipients,
            key_area,
            signing_key,
            chunk_seconds,
            retention_days,
            no_verify,
            verify_all,
            bind_context,
            force,
            key,
        } => commands::pack::run(
            &input,
            &output,
            meta.as_deref(),
            encrypt,
            chunk_seconds,
            retention_days,
            no_verify,
            verify_all,
            bind_context,
            force,
            &key,
            &commands::pack::Access {
                recipients,
                key_area,
                signing_key,
            },
            q,
        )?,
        Command::Verify {
            files,
            json,
            silent,
            audio_hash,
            key,
        } => return commands::verify::run(&files, json, silent || q, audio_hash, &key),
        Command::Info { file, json, key } => commands::info::run(&file, json, &key)?,
        Command::Extract {
            file,
            meta,
            audio,
            force,
            pcm16,
            range,
            key,
        } => commands::extract::run(
            &file,
            &meta,
            audio.as_deref(),
            pcm16,
            &range,
            &key,
            force,
            q,
        )?,
        Command::Convert {
            file,
            output,
            force,
            pcm16,
            range,
            key,
        } => commands::convert::run(&file, &output, pcm16, &range, &key, force, q)?,
        Command::Recover {
            file,
            output,
            in_place,
            allow_auth_failure,
            force,
            key,
        } => {
            return match output {
                Some(o) if !in_place => {
                    commands::recover::run(&file, &o, allow_auth_failure, force, &key)
                }
                _ => commands::recover::in_place(&file, &key),
            }
        }
        Command::Annotate(args) => commands::annotate::run(&args)?,
        Command::History {
            file,
            json,
            annotator,
            key,
        } => commands::history::run(&file, json, &annotator, &key)?,
        Command::Keys(k) => match k {
            KeysCommand::List { file, json } => commands::keys::list(&file, json)?,
            KeysCommand::Add { file, new, key } => commands::keys::add(&file, &new, &key)?,
            KeysCommand::Remove {
                file,
                id,
                remove_key_file,
                key,
            } => commands::keys::remove(&file, &id, &remove_key_file, &key)?,
            KeysCommand::Rotate {
                file,
                id,
                remove_key_file,
                new,
                key,
            } => commands::keys::rotate(
                &file,
                id.as_deref(),
                remove_key_file.as_deref(),
                &new,
                &key,
            )?,
        },
        Command::Sign {
            file,
            signing_key,
            key,
        } => commands::sign::run(&file, &signing_key, &key)?,
        Command::Merge(args) => commands::merge::run(&args)?,
        Command::Session(args) => commands::session::run(&args)?,
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails.
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "sasf", &mut buf);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &buf)?;
        }
        Command::Man { output } => write_man_pages(&output)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_man_pages(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    let mut pages = vec![("sasf".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        pages.push((
            format!("sasf-{}", sub.get_name()),
            sub.clone().name(format!("sasf-{}", sub.get_name())),
        ));
    }
    for (name, c) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c).render(&mut buf)?;
        std::fs::write(dir.join(format!("{name}.1")), buf)?;
    }
    Ok(())
}

/// True when the error is a closed stdout (e.g. `sasf info x | head`): not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<sasf_core::Error>().is_some_and(|s| {
                matches!(s.kind(), sasf_core::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}

fn main() -> ExitCode {
    output::install_signal_cleanup();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let verification = e.chain().any(|c| {
                c.downcast_ref::<sasf_core::Error>()
                    .is_some_and(|s| s.is_verification_failure())
            });
            io::note(format_args!("sasf: {e:#}"));
            ExitCode::from(if verification { 1 } else { 2 })
        }
    }
}
