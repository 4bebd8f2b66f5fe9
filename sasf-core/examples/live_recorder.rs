//! A live recorder and a streaming reader, side by side.
//!
//! The recorder thread produces 20 ms frames of µ-law audio as a phone call would, and
//! while the audio streams in it declares participants and adds events (a join, a hold,
//! DTMF, a disconnect) at the current position. The SASF stream goes through a pipe to
//! a reader thread that meets each participant and event exactly where it happened in
//! the audio, and prints the timeline as it goes.
//!
//! Run with `cargo run -p sasf-core --example live_recorder`.

use std::io::{Read, Write};
use std::sync::mpsc;

use sasf_core::error::format_time;
use sasf_core::meta::{Event, EventKind, Participant, RecordingInfo, Role};
use sasf_core::{AudioFormat, Decoder, Encoding, Item, Key, WriterBuilder};

/// One end of an in-memory pipe (a channel of byte blocks).
struct PipeWriter(mpsc::SyncSender<Vec<u8>>);
struct PipeReader {
    rx: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Write for PipeWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .send(b.to_vec())
            .map_err(|_| std::io::ErrorKind::BrokenPipe)?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(b) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Err(_) => return Ok(0), // writer gone: end of stream
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn person(id: &str, name: &str, role: Role, address: &str, ch: u16) -> Participant {
    Participant::new(id, role)
        .with_name(name)
        .with_address(address)
        .with_channels([ch])
}

fn main() -> Result<(), sasf_core::Error> {
    let key = Key::generate()?;
    let format = AudioFormat::new(Encoding::MuLaw, 2, 8000)?;
    let (tx, rx) = mpsc::sync_channel(64);

    let recorder_key = key.clone();
    let recorder = std::thread::spawn(move || -> Result<(), sasf_core::Error> {
        let info = RecordingInfo::new()
            .with_id("live-0001")
            .with_started_at("2026-11-28T09:00:00Z".parse().expect("a valid UTC time"))
            .with_channels(["agent", "customer"]);
        let mut w = WriterBuilder::new(format)
            .encrypted(recorder_key)
            .info(info)
            .chunk_frames(4000) // half a second per chunk: a crash loses at most that
            .wrap_output(PipeWriter(tx))?;
        let frame = [0xFFu8; 2 * 160]; // 20 ms of stereo µ-law silence
        for tick in 0..250u64 {
            // 250 × 20 ms = 5 s of call
            let now = w.position();
            match tick {
                0 => {
                    w.add_participant(person(
                        "a1",
                        "Ann Agent",
                        Role::Agent,
                        "sip:ann@example.com",
                        0,
                    ))?;
                    w.add_event(ev(now, Some("a1"), EventKind::Join))?;
                }
                20 => {
                    w.add_participant(person(
                        "c1",
                        "Carl Customer",
                        Role::Customer,
                        "+15551234567",
                        1,
                    ))?;
                    w.add_event(ev(now, Some("c1"), EventKind::Join))?;
                }
                100 => w.add_event(ev(now, Some("a1"), EventKind::Hold))?,
                140 => w.add_event(ev(now, Some("a1"), EventKind::Resume))?,
                180 => w.add_event(ev(now, Some("c1"), EventKind::Dtmf { digits: None }))?,
                _ => {}
            }
            w.write_audio(&frame)?;
        }
        let end = w.position();
        w.add_event(ev(
            end,
            None,
            EventKind::Disconnect {
                reason: "customer hung up".into(),
            },
        ))?;
        w.finish()?;
        Ok(())
    });

    // The reader sees the stream as it is written: only authenticated chunks, in order.
    let pipe = PipeReader {
        rx,
        buf: Vec::new(),
        pos: 0,
    };
    let mut r = Decoder::new(pipe)?.open(Some(&key))?;
    println!(
        "recording {:?} started {:?}",
        r.info().id,
        r.info().started_at
    );
    let mut samples = 0u64;
    while let Some(item) = r.next_item()? {
        match item {
            Item::Audio { data, .. } => samples += (data.len() / format.block_align()) as u64,
            Item::Participant {
                at_sample,
                participant,
            } => println!(
                "{}  participant {} ({}, {})",
                format_time(at_sample, 8000),
                participant.id,
                participant.name.unwrap_or_default(),
                participant.role.name()
            ),
            Item::Event(e) => {
                assert_eq!(e.at_sample, samples, "each event is met where it happened");
                println!(
                    "{}  {:<12} {}",
                    format_time(e.at_sample, 8000),
                    e.kind.type_name(),
                    e.participant.unwrap_or_default()
                )
            }
            Item::End(t) => println!(
                "end: {} samples in {} chunks, verified",
                t.samples,
                t.chunks + 1
            ),
            _ => {}
        }
    }
    recorder.join().expect("recorder thread")?;
    Ok(())
}

fn ev(at: u64, who: Option<&str>, kind: EventKind) -> Event {
    let e = Event::new(at, kind);
    match who {
        Some(p) => e.with_participant(p),
        None => e,
    }
}
