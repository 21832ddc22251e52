//! Benchmark of the domain state's rebuild: fills a ledger with N domain entries through
//! `Ledger::append` (appends of 1000 events), then times reopening it (head check, Merkle
//! frontier, and the replay that rebuilds the state) and a replay of a prefix (`state_at`).
//!
//! ```text
//! cargo run --release --example bench_replay -- [ENTRIES] [DIR]
//! ```
//!
//! ENTRIES defaults to 1000000; DIR to a fresh temporary directory (removed afterwards). The
//! history is 400 schools in 50 education groups, then per teacher seven entries: registered,
//! dispatched to a weak school of the group, evaluated three times, returned after the term,
//! promoted with rotation credit (so every promotion runs the eligibility rule).

use std::time::Instant;

use std::sync::Arc;

use rotaledger::domain::{Meta, State};
use rotaledger::ledger::{Ledger, LedgerError, LedgerOptions};

fn schools() -> Vec<String> {
    let mut v = Vec::new();
    for s in 0..400 {
        let standing = if s % 4 == 3 { "weak" } else { "strong" };
        v.push(format!(
            r#"{{"type":"school_registered","version":1,"school":"S{s:04}","name":"School {s}","stage":"junior","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
        ));
    }
    for g in 0..50 {
        let members: Vec<String> = (g * 8..g * 8 + 8).map(|s| format!("\"S{s:04}\"")).collect();
        v.push(format!(
            r#"{{"type":"group_formed","version":1,"group":"G{g:02}","kind":"education_group","name":"Group {g}","lead_school":"S{:04}","schools":[{}],"date":"2010-01-01"}}"#,
            g * 8,
            members.join(",")
        ));
    }
    v
}

fn teacher(i: u64) -> [String; 7] {
    let home = (i % 100) * 4 + (i / 100) % 3;
    let weak = home - home % 4 + 3;
    let y = 2012 + (i % 7) as i32;
    let t = format!("T{i:07}");
    let d = format!("D{i:07}");
    [
        format!(
            r#"{{"type":"teacher_registered","version":1,"teacher":"{t}","name":"Teacher {i}","school":"S{home:04}","subject":"mathematics","title":"intermediate","key_level":"none","employed_date":"2005-09-01","date":"2010-01-01"}}"#
        ),
        format!(
            r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{d}","teacher":"{t}","from_school":"S{home:04}","to_school":"S{weak:04}","start_date":"{y}-09-01","kind":"rotation"}}"#
        ),
        eval(&d, weak, y),
        eval(&d, weak, y + 1),
        eval(&d, weak, y + 2),
        format!(
            r#"{{"type":"teacher_returned","version":1,"dispatch":"{d}","return_date":"{}-09-01","reason":"term_completed"}}"#,
            y + 3
        ),
        format!(
            r#"{{"type":"teacher_promoted","version":1,"teacher":"{t}","kind":"rank","to":"level 2","date":"{}-09-01","rotation_credit":true}}"#,
            y + 3
        ),
    ]
}

fn eval(d: &str, school: u64, year: i32) -> String {
    format!(
        r#"{{"type":"teacher_evaluated","version":1,"dispatch":"{d}","school":"S{school:04}","school_year":{year},"grade":"good","date":"{}-07-01"}}"#,
        year + 1
    )
}

fn rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn open(dir: &std::path::Path) -> Result<Ledger, LedgerError> {
    loop {
        match Ledger::open(dir, LedgerOptions::default()) {
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let entries: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir()?;
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());

    let started = Instant::now();
    let l = open(&dir)?;
    let mut pending: Vec<String> = schools();
    let mut next = 0u64;
    let mut appends = 0u64;
    let mut written = l.head().size;
    while written < entries {
        while pending.len() < 1000 {
            pending.extend(teacher(next));
            next += 1;
        }
        let take = 1000.min((entries - written) as usize).min(pending.len());
        let batch: Vec<String> = pending.drain(..take).collect();
        // A cut through a teacher's seven entries is fine: the rest follows in the next append.
        l.append("bench", &format!("r{appends}"), None, batch)
            .await?;
        appends += 1;
        written = l.head().size;
    }
    let fill = started.elapsed();
    println!(
        "filled {written} entries in {appends} appends: {:.1} s ({:.0} entries/s); {}",
        fill.as_secs_f64(),
        written as f64 / fill.as_secs_f64(),
        rss()
    );
    l.shutdown();
    drop(l);

    let t = Instant::now();
    let l = open(&dir)?;
    let reopen = t.elapsed();
    let snap = l.snapshot();
    println!(
        "reopened (head check, Merkle frontier, state replay of {} entries): {:.2} s ({:.0} entries/s); {} teachers, {} dispatches; {}",
        snap.head.size,
        reopen.as_secs_f64(),
        snap.head.size as f64 / reopen.as_secs_f64(),
        snap.state.teachers().count(),
        snap.state.dispatches().count(),
        rss()
    );
    let t = Instant::now();
    let prefix = l.state_at(snap.head.size - 1)?;
    let replay = t.elapsed();
    println!(
        "state_at({}) replay: {:.2} s ({:.0} entries/s)",
        prefix.size,
        replay.as_secs_f64(),
        prefix.size as f64 / replay.as_secs_f64()
    );
    // The domain alone: the same payloads, already in memory.
    let mut metas = Vec::new();
    let mut payloads = Vec::new();
    for e in l.entries(0, snap.head.size) {
        let e = e?;
        let m = e.meta()?;
        metas.push(Meta {
            seq: e.seq,
            hash: e.hash,
            recorded_at: m.recorded_at,
            actor: Arc::from(m.actor),
        });
        payloads.push(m.payload);
    }
    let t = Instant::now();
    let state = State::replay(metas.into_iter().zip(payloads.iter().map(String::as_str)));
    let in_memory = t.elapsed();
    println!(
        "State::replay of {} payloads in memory: {:.2} s ({:.0} entries/s)",
        state.len(),
        in_memory.as_secs_f64(),
        state.len() as f64 / in_memory.as_secs_f64()
    );
    l.shutdown();
    Ok(())
}
