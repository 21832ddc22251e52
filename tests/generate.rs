//! The generator: a small district appended through a real ledger without one refusal,
//! byte-identical output per seed, and projections with something to say about the result.

use chrono::NaiveDate;
use rotaledger::cli::generate::{CheckReport, check_lines};
use rotaledger::domain::State;
use rotaledger::domain::calendar::add_years;
use rotaledger::domain::terms::{TermQuery, TermStatus};
use rotaledger::domain::vocab::{DispatchKind, SchoolYear, Standing};
use rotaledger::generate::{Config, Names, Stats, generate};
use rotaledger::ledger::{Ledger, LedgerOptions};

fn small(seed: u64) -> Config {
    Config {
        teachers: 300,
        years: 4,
        seed,
        ..Config::default()
    }
}

fn bytes(config: &Config) -> (Vec<u8>, Stats) {
    let mut out = Vec::new();
    let stats = generate(config, &mut out).unwrap();
    (out, stats)
}

async fn appended(config: &Config) -> (tempfile::TempDir, Ledger, Stats, CheckReport) {
    let (out, stats) = bytes(config);
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    let report = check_lines(&ledger, out.as_slice()).await.unwrap();
    (dir, ledger, stats, report)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[tokio::test]
async fn small_district_is_accepted_whole() {
    let (_dir, ledger, stats, report) = appended(&small(7)).await;
    assert_eq!(report.first_rejections, vec![]);
    assert_eq!(report.rejected, 0);
    assert_eq!(report.lines, stats.lines);
    assert_eq!(report.entries, stats.events);
    assert_eq!(ledger.head().size, stats.events);
    ledger.shutdown();
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, _) = bytes(&small(7));
    let (b, _) = bytes(&small(7));
    let (c, _) = bytes(&small(8));
    assert!(a == b, "two runs with seed 7 differ");
    assert!(a != c, "seeds 7 and 8 wrote the same file");
    let first = std::str::from_utf8(&a).unwrap().lines().next().unwrap();
    assert!(
        first.starts_with(r#"{"request_id":"gen-7-0","events":[{"#),
        "{first}"
    );
}

#[test]
fn names_are_chinese_by_default_and_nothing_else_differs_in_english() {
    let (zh, _) = bytes(&small(7));
    let (en, _) = bytes(&Config {
        names: Names::English,
        ..small(7)
    });
    let names = |b: &[u8]| -> (Vec<String>, Vec<serde_json::Value>) {
        let mut names = Vec::new();
        let mut lines = Vec::new();
        for line in std::str::from_utf8(b).unwrap().lines() {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            for e in v["events"].as_array_mut().unwrap() {
                if let Some(n) = e.get_mut("name") {
                    names.push(n.as_str().unwrap().to_owned());
                    *n = serde_json::Value::Null;
                }
            }
            lines.push(v);
        }
        (names, lines)
    };
    let (zh_names, zh_rest) = names(&zh);
    let (en_names, en_rest) = names(&en);
    assert!(zh_rest == en_rest, "the languages differ beyond names");
    assert_eq!(zh_names.len(), en_names.len());
    let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    assert!(zh_names.iter().all(|n| cjk(n)), "a name without Chinese");
    assert!(
        en_names.iter().all(|n| n.is_ascii()),
        "a non-ASCII English name"
    );
    assert!(
        zh_names
            .iter()
            .any(|n| n.starts_with("闵行区") && n.ends_with("中学"))
    );
}

/// Eligible teachers at strong schools for `year`, as SPEC 4.4's quota counts them from the
/// ledger's state (home school on 1 September, tenure reached, no dispatch open on 31 August),
/// per school.
fn eligible_at_strong(state: &State, year: i32) -> Vec<u64> {
    let sept1 = day(year, 9, 1);
    let aug31 = day(year, 8, 31);
    let mut per_school = std::collections::BTreeMap::<String, u64>::new();
    for s in state.schools() {
        if state.standing_at(s.id.as_str(), sept1) == Some(Standing::Strong) {
            per_school.insert(s.id.as_str().to_owned(), 0);
        }
    }
    for t in state.teachers() {
        let Some(home) = state.home_at(t.id.as_str(), sept1) else {
            continue;
        };
        let Some(count) = per_school.get_mut(home.school.as_str()) else {
            continue;
        };
        let tenure = add_years(home.since, 6).unwrap() <= sept1;
        let open_on_aug31 = state.dispatches_of(t.id.as_str()).iter().any(|d| {
            d.start_date <= aug31 && d.end_as_of(day(year, 9, 1)).is_none_or(|e| e > aug31)
        });
        // SPEC 4.4: within five years of a known retirement date is exempt.
        let exempt = t
            .retirement
            .at(sept1)
            .copied()
            .flatten()
            .is_some_and(|r| add_years(sept1, 5).unwrap() >= r);
        if tenure && !open_on_aug31 && !exempt {
            *count += 1;
        }
    }
    // The quota projection itself agrees, school by school.
    for (school, count) in &per_school {
        let q = rotaledger::domain::quota::school_quota(state, school, SchoolYear(year), sept1)
            .unwrap();
        assert_eq!(q.eligible.len() as u64, *count, "{school} in {year}");
    }
    per_school.into_values().collect()
}

#[tokio::test]
async fn projections_find_teams_early_returns_credit_and_quotas() {
    let config = Config {
        teachers: 1_500,
        years: 5,
        seed: 3,
        ..Config::default()
    };
    let (_dir, ledger, stats, report) = appended(&config).await;
    assert_eq!(report.rejected, 0, "{:?}", report.first_rejections);

    // Teams: one per team line the generator wrote, at strength on their first day.
    let first = day(2023, 9, 1);
    let teams = ledger.teams(first).value;
    assert_eq!(teams.len() as u64, stats.years[0].teams);
    assert!(
        teams
            .iter()
            .all(|t| t.members.len() >= 3 && t.members.len() <= 5)
    );

    // Terms: early returns and completed terms, as many as the generator recorded.
    let end = day(2028, 8, 31);
    let terms = ledger.terms(&TermQuery::default(), end).value;
    let early = terms
        .iter()
        .filter(|t| t.status == TermStatus::ReturnedEarly)
        .count() as u64;
    let completed = terms
        .iter()
        .filter(|t| t.status == TermStatus::Completed)
        .count() as u64;
    let sum =
        |f: fn(&rotaledger::generate::YearStats) -> u64| stats.years.iter().map(f).sum::<u64>();
    assert!(early > 0);
    assert_eq!(early, sum(|y| y.early_returns));
    assert!(completed > 0);
    assert_eq!(completed, sum(|y| y.returns_completed));

    // Quotas: the state's count of eligible teachers and outflow per strong school agrees
    // with the generator's, and strong schools sent about their 20%.
    let state = ledger.query(|s| s.clone()).value;
    for y in &stats.years {
        let per_school = eligible_at_strong(&state, y.school_year);
        let eligible: u64 = per_school.iter().sum();
        let quota: u64 = per_school.iter().map(|e| e.div_ceil(5)).sum();
        assert_eq!(
            eligible, y.eligible_at_strong,
            "eligible in {}",
            y.school_year
        );
        assert_eq!(quota, y.quota, "quota in {}", y.school_year);
        let start = day(y.school_year, 9, 1);
        let outflow = state
            .dispatches()
            .filter(|d| {
                d.kind == DispatchKind::Rotation
                    && d.start_date == start
                    && !state.is_voided(d.seq)
                    && state.standing_at(d.from_school.as_str(), start) == Some(Standing::Strong)
            })
            .count() as u64;
        assert_eq!(
            outflow, y.rotation_dispatches,
            "outflow in {}",
            y.school_year
        );
        assert!(outflow * 10 >= quota * 9 && outflow * 10 <= quota * 12);
    }

    // Credit: some promotions claimed it, so someone's credit is met in the ledger's eyes.
    assert!(sum(|y| y.promotions_with_credit) > 0);
    let credited = state
        .teachers()
        .filter(|t| {
            let e =
                rotaledger::domain::eligibility::eligibility(&state, t.id.as_str(), end).unwrap();
            e.rotation.met || e.leadership.met
        })
        .count();
    assert!(credited > 0);
    // Voids: each names an entry, the entry stays voided.
    assert_eq!(state.voided().count() as u64, sum(|y| y.voids));
    ledger.shutdown();
}
