//! The registry of the generated district: schools, districts (学区), education groups
//! (集团) and teachers, in Minhang's proportions, and the compact per-teacher state the
//! school years run on.

use std::io::Write;

use chrono::NaiveDate;

use super::events::{self, TeacherFacts};
use super::{Config, GenerateError, Names, Out, Rng, Stats};
use crate::domain::vocab::{DispatchKind, Grade, KeyLevel, Stage, Standing, Title, Vocabulary};

/// Minhang's 街镇, after which the districts are named (seed 000: 14 towns, 12 districts).
const TOWNS: &[&str] = &[
    "Xinzhuang",
    "Qibao",
    "Gumei",
    "Jiangchuan",
    "Xinhong",
    "Hongqiao",
    "Meilong",
    "Hongqiao",
    "Huacao",
    "Zhuanqiao",
    "Wujing",
    "Maqiao",
    "Pujiang",
    "Pujin",
];
/// The same towns in Chinese, in the same order.
const TOWNS_ZH: &[&str] = &[
    "莘庄", "七宝", "古美", "江川", "新虹", "虹桥", "梅陇", "虹桥", "华漕", "颛桥", "吴泾", "马桥",
    "浦江", "浦锦",
];
const SURNAMES: &[&str] = &[
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma",
    "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo", "Zheng", "Shen", "Lu", "Tang",
];
const GIVEN: &[&str] = &[
    "Fang", "Min", "Jing", "Wei", "Lei", "Yan", "Jun", "Hua", "Ping", "Hong", "Li", "Qiang",
    "Xiaoyan", "Haiyan", "Jianguo", "Yifan", "Zihan", "Yuting", "Chen", "Xin", "Jie", "Lina",
];
/// The same surnames and given names in Chinese, in the same order (one draw picks both).
const SURNAMES_ZH: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "高", "罗", "郑", "沈", "陆", "唐",
];
const GIVEN_ZH: &[&str] = &[
    "芳", "敏", "静", "伟", "磊", "燕", "军", "华", "平", "红", "丽", "强", "晓燕", "海燕", "建国",
    "一帆", "子涵", "雨婷", "晨", "鑫", "杰", "丽娜",
];
/// Subjects, with the scored subjects of seed 001 first.
pub(crate) const SUBJECTS: &[&str] = &[
    "chinese",
    "mathematics",
    "english",
    "physics",
    "chemistry",
    "morality_and_law",
    "history",
    "physical_education",
    "biology",
    "geography",
    "music",
    "fine_arts",
    "information_technology",
    "science",
];
/// Subject weights in primary schools and in secondary ones.
const PRIMARY_SUBJECTS: &[u32] = &[26, 24, 14, 0, 0, 6, 0, 9, 0, 0, 7, 7, 3, 4];
const SECONDARY_SUBJECTS: &[u32] = &[15, 15, 13, 7, 5, 6, 5, 8, 5, 4, 4, 4, 4, 0];

/// One school, as the years need it.
#[derive(Debug, Clone)]
pub(crate) struct School {
    pub standing: Standing,
    pub stage: Stage,
    pub rural: bool,
    /// Index of its district (every school is in exactly one).
    pub district: u32,
    /// Index of its education group, if any (at most one).
    pub group: Option<u32>,
}

/// A teacher's open dispatch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Open {
    /// Number in the dispatch id.
    pub id: u32,
    /// Receiving school.
    pub to: u32,
    pub start: NaiveDate,
    pub kind: DispatchKind,
    /// The receiving school shares a district or group with the home school (leadership).
    pub same_group: bool,
    /// The receiving school was weak or rural on the start date (senior title).
    pub weak_or_rural: bool,
    /// Evaluations recorded (after voids).
    pub evals: u8,
    /// Lowest grade recorded (after voids).
    pub min_grade: Grade,
    /// Stays a year beyond the minimum term.
    pub stays_longer: bool,
}

/// One teacher: the facts and history the rules look at, in a few dozen bytes.
#[derive(Debug, Clone)]
pub(crate) struct Teacher {
    pub home: u32,
    pub employed: NaiveDate,
    pub retirement: NaiveDate,
    pub title: Title,
    pub title_date: NaiveDate,
    pub key: KeyLevel,
    pub subject: u8,
    pub open: Option<Open>,
    /// Days served on ended dispatches to weak or rural schools.
    pub weak_days: u32,
    /// Days served on ended rotation/support dispatches within a district or group.
    pub group_days: u32,
    /// An ended rotation/support dispatch earned rotation credit.
    pub credit: bool,
    /// The school year of the last return or promotion (none again soon after).
    pub last_move: i32,
    pub last_promotion: i32,
}

/// The generator's whole state.
pub(crate) struct Sim {
    pub rng: Rng,
    pub schools: Vec<School>,
    /// Schools of each district.
    pub districts: Vec<Vec<u32>>,
    /// Schools of each education group.
    pub groups: Vec<Vec<u32>>,
    pub teachers: Vec<Teacher>,
    pub next_dispatch: u32,
    pub next_team: u32,
    pub stats: Stats,
}

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

pub(crate) fn school_id(i: u32) -> String {
    format!("S{:05}", i + 1)
}

pub(crate) fn teacher_id(i: u32) -> String {
    format!("T{:08}", i + 1)
}

fn stage_label(s: Stage) -> &'static str {
    match s {
        Stage::Primary => "Primary School",
        Stage::Junior => "Middle School",
        Stage::Senior => "High School",
        Stage::NineYear => "Nine-Year School",
        Stage::CompleteSecondary => "Secondary School",
        Stage::TwelveYear => "Twelve-Year School",
        Stage::SpecialEducation => "Special School",
        Stage::Vocational => "Vocational School",
    }
}

fn stage_label_zh(s: Stage) -> &'static str {
    match s {
        Stage::Primary => "小学",
        Stage::Junior => "初级中学",
        Stage::Senior => "高级中学",
        Stage::NineYear => "九年一贯制学校",
        Stage::CompleteSecondary => "完全中学",
        Stage::TwelveYear => "十二年一贯制学校",
        Stage::SpecialEducation => "特殊教育学校",
        Stage::Vocational => "职业学校",
    }
}

/// `n` (1..=9999) in Chinese numerals, as school names write it: 3 三, 12 十二, 105 一百零五.
fn zh_number(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    const UNITS: [&str; 4] = ["", "十", "百", "千"];
    if n == 0 || n > 9999 {
        return n.to_string();
    }
    let digits: Vec<u32> = n.to_string().bytes().map(|b| u32::from(b - b'0')).collect();
    let len = digits.len();
    let mut out = String::new();
    let mut zero = false;
    for (i, d) in digits.iter().enumerate() {
        let unit = len - 1 - i;
        if *d == 0 {
            zero = true;
            continue;
        }
        if zero && !out.is_empty() {
            out.push_str(DIGITS[0]);
        }
        zero = false;
        // 十二, not 一十二, when the number starts in the tens.
        if !(*d == 1 && unit == 1 && i == 0) {
            out.push_str(DIGITS[*d as usize]);
        }
        out.push_str(UNITS[unit]);
    }
    out
}

/// The generated names, in the language chosen.
struct Namer {
    names: Names,
}

impl Namer {
    fn school(&self, district: usize, i: u32, stage: Stage) -> String {
        match self.names {
            Names::Chinese => format!(
                "闵行区{}第{}{}",
                TOWNS_ZH[district % TOWNS_ZH.len()],
                zh_number(i + 1),
                stage_label_zh(stage)
            ),
            Names::English => format!(
                "Minhang {} No.{} {}",
                TOWNS[district % TOWNS.len()],
                i + 1,
                stage_label(stage)
            ),
        }
    }

    fn district(&self, d: usize) -> String {
        let round = d / TOWNS.len();
        match self.names {
            Names::Chinese if round == 0 => format!("{}学区", TOWNS_ZH[d % TOWNS_ZH.len()]),
            Names::Chinese => format!(
                "{}第{}学区",
                TOWNS_ZH[d % TOWNS_ZH.len()],
                zh_number(round as u32 + 1)
            ),
            Names::English if round == 0 => format!("{} School District", TOWNS[d % TOWNS.len()]),
            Names::English => format!("{} School District {}", TOWNS[d % TOWNS.len()], round + 1),
        }
    }

    fn group(&self, g: u32) -> String {
        match self.names {
            Names::Chinese => format!("闵行区第{}教育集团", zh_number(g + 1)),
            Names::English => format!("Minhang Education Group {}", g + 1),
        }
    }

    fn teacher(&self, surname: usize, given: usize) -> String {
        match self.names {
            Names::Chinese => format!("{}{}", SURNAMES_ZH[surname], GIVEN_ZH[given]),
            Names::English => format!("{} {}", SURNAMES[surname], GIVEN[given]),
        }
    }
}

/// Registers the policy, schools, groups and teachers, and returns the state for the years.
pub(crate) fn register<W: Write>(cfg: &Config, out: &mut Out<'_, W>) -> Result<Sim, GenerateError> {
    let mut rng = Rng::new(cfg.seed);
    let namer = Namer { names: cfg.names };
    let mut srng = rng.fork(1);
    let mut trng = rng.fork(2);
    let y0 = cfg.first_year;
    let n = u64::from(cfg.teachers);
    // 402 schools for 15,000 teachers; 12 districts and 8 groups for 402 schools.
    let n_schools = ((n * 402 + 7_500) / 15_000).max(8) as u32;
    let n_districts = ((u64::from(n_schools) * 12 + 201) / 402).max(1) as u32;
    let n_groups = ((u64::from(n_schools) * 8 + 201) / 402).max(1) as u32;

    out.line(vec![events::policy("shanghai-2023", date(y0, 5, 4))])?;

    // Schools: the first of each district weak, the next strong, the rest drawn.
    let stages = Stage::ALL;
    let stage_weights = [45, 24, 10, 9, 5, 2, 2, 3];
    let mut schools = Vec::with_capacity(n_schools as usize);
    let mut districts = vec![Vec::new(); n_districts as usize];
    let mut stats = Stats {
        districts: u64::from(n_districts),
        education_groups: u64::from(n_groups),
        ..Stats::default()
    };
    let mut stage_counts = vec![0u64; stages.len()];
    for i in 0..n_schools {
        let district = if i < 2 * n_districts {
            i % n_districts
        } else {
            srng.below(u64::from(n_districts)) as u32
        };
        let standing = if i < n_districts {
            Standing::Weak
        } else if i < 2 * n_districts {
            Standing::Strong
        } else {
            [Standing::Strong, Standing::Ordinary, Standing::Weak][srng.weighted(&[22, 58, 20])]
        };
        let stage_i = srng.weighted(&stage_weights);
        let stage = stages[stage_i];
        let rural = srng.chance(if standing == Standing::Weak { 300 } else { 70 });
        stage_counts[stage_i] += 1;
        stats.schools_by_standing[standing as usize] += 1;
        stats.rural_schools += u64::from(rural);
        districts[district as usize].push(i);
        let name = namer.school(district as usize, i, stage);
        out.push(events::school(
            &school_id(i),
            &name,
            stage,
            standing,
            rural,
            date(y0, 6, 1),
        ))?;
        schools.push(School {
            standing,
            stage,
            rural,
            district,
            group: None,
        });
    }
    stats.schools_by_stage = stages
        .iter()
        .zip(stage_counts)
        .map(|(s, c)| (s.as_str().to_owned(), c))
        .collect();

    // Districts: the town's schools, led by its first strong school.
    for (d, members) in districts.iter().enumerate() {
        let lead = members
            .iter()
            .copied()
            .find(|s| schools[*s as usize].standing == Standing::Strong)
            .or_else(|| members.first().copied())
            .unwrap_or(0);
        let name = namer.district(d);
        let ids: Vec<String> = members.iter().map(|s| school_id(*s)).collect();
        out.push(events::group(
            &format!("DIST{:03}", d + 1),
            true,
            &name,
            &school_id(lead),
            &ids,
            date(y0, 6, 15),
        ))?;
    }
    // Education groups: a strong lead school and 3 to 7 members not yet in a group.
    let mut groups = Vec::with_capacity(n_groups as usize);
    let strong: Vec<u32> = (0..n_schools)
        .filter(|s| schools[*s as usize].standing == Standing::Strong)
        .collect();
    for g in 0..n_groups {
        let Some(&lead) = strong
            .iter()
            .find(|s| schools[**s as usize].group.is_none())
        else {
            break;
        };
        schools[lead as usize].group = Some(g);
        let mut members = vec![lead];
        let want = srng.range(3, 7);
        for _ in 0..want * 4 {
            if members.len() as u64 > want {
                break;
            }
            let s = srng.below(u64::from(n_schools)) as u32;
            if schools[s as usize].group.is_none() {
                schools[s as usize].group = Some(g);
                members.push(s);
            }
        }
        let ids: Vec<String> = members.iter().map(|s| school_id(*s)).collect();
        out.push(events::group(
            &format!("EG{:03}", g + 1),
            false,
            &namer.group(g),
            &school_id(lead),
            &ids,
            date(y0, 6, 15),
        ))?;
        groups.push(members);
    }
    stats.education_groups = groups.len() as u64;
    out.flush()?;

    // Teachers: school sizes by stage with some spread, counts summing to n exactly.
    let weights: Vec<u64> = schools
        .iter()
        .map(|s| {
            let base = match s.stage {
                Stage::Primary | Stage::Junior => 100,
                Stage::NineYear => 140,
                Stage::Senior => 110,
                Stage::CompleteSecondary => 150,
                Stage::TwelveYear => 200,
                Stage::SpecialEducation => 40,
                Stage::Vocational => 80,
            };
            base * srng.range(60, 140)
        })
        .collect();
    let total: u64 = weights.iter().sum();
    let mut sizes: Vec<u64> = weights.iter().map(|w| n * w / total.max(1)).collect();
    let mut short = n - sizes.iter().sum::<u64>();
    let len = sizes.len();
    let mut i = 0;
    while short > 0 {
        sizes[i % len] += 1;
        short -= 1;
        i += 1;
    }
    let mut teachers = Vec::with_capacity(n as usize);
    let registered = date(y0, 7, 1);
    for (s, size) in sizes.iter().enumerate() {
        let school = &schools[s];
        let subject_weights = if matches!(school.stage, Stage::Primary) {
            PRIMARY_SUBJECTS
        } else {
            SECONDARY_SUBJECTS
        };
        for _ in 0..*size {
            let t = teachers.len() as u32;
            let tenure = trng.weighted(&[
                8, 8, 7, 7, 7, 6, 6, 6, 6, 6, 5, 5, 5, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1,
                1, 1,
            ]) as i32;
            let prior = if trng.chance(350) {
                trng.range(1, 8) as i32
            } else {
                0
            };
            let retire_age = if trng.chance(600) { 55 } else { 60 };
            let start_age = trng.range(22, 26) as i32;
            let mut age = start_age + prior + tenure + 1;
            if age >= retire_age {
                age = retire_age - 1 - trng.range(0, 3) as i32;
            }
            let tenure = tenure.min(age - start_age - 1).max(0);
            let experience = age - start_age;
            let employed = date(y0 - 1 - tenure, 9, 1);
            let retirement = date(y0 - age + retire_age, 8, 31);
            let title = match experience {
                0..=1 => [Title::None, Title::Junior][trng.weighted(&[3, 7])],
                2..=7 => [Title::Junior, Title::Intermediate][trng.weighted(&[5, 5])],
                8..=17 => [Title::Intermediate, Title::Senior][trng.weighted(&[70, 30])],
                _ => [Title::Intermediate, Title::Senior, Title::FullSenior]
                    [trng.weighted(&[45, 53, 2])],
            };
            let title_date = date(
                y0 - 1 - trng.range(0, experience.clamp(0, 6) as u64) as i32,
                7,
                1,
            );
            let key = if experience >= 5 {
                [
                    KeyLevel::None,
                    KeyLevel::School,
                    KeyLevel::District,
                    KeyLevel::City,
                    KeyLevel::Province,
                ][trng.weighted(&[760, 130, 80, 25, 5])]
            } else {
                [KeyLevel::None, KeyLevel::School][trng.weighted(&[97, 3])]
            };
            let subject = trng.weighted(subject_weights) as u8;
            let surname = trng.below(SURNAMES.len() as u64) as usize;
            let name = namer.teacher(surname, trng.below(GIVEN.len() as u64) as usize);
            stats.key_teachers += u64::from(key != KeyLevel::None);
            out.push(events::teacher(&TeacherFacts {
                id: &teacher_id(t),
                name: &name,
                school: &school_id(s as u32),
                subject: SUBJECTS[subject as usize],
                title,
                title_date: (title != Title::None).then_some(title_date),
                key,
                employed,
                retirement,
                date: registered,
            }))?;
            teachers.push(Teacher {
                home: s as u32,
                employed,
                retirement,
                title,
                title_date,
                key,
                subject,
                open: None,
                weak_days: 0,
                group_days: 0,
                credit: false,
                last_move: i32::MIN / 2,
                last_promotion: i32::MIN / 2,
            });
        }
    }
    out.flush()?;
    stats.teachers = teachers.len() as u64;
    Ok(Sim {
        rng,
        schools,
        districts,
        groups,
        teachers,
        next_dispatch: 0,
        next_team: 0,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_numerals_as_names_write_them() {
        let cases = [
            (1, "一"),
            (10, "十"),
            (12, "十二"),
            (20, "二十"),
            (105, "一百零五"),
            (110, "一百一十"),
            (402, "四百零二"),
            (1001, "一千零一"),
            (9999, "九千九百九十九"),
        ];
        for (n, want) in cases {
            assert_eq!(zh_number(n), want, "{n}");
        }
        assert_eq!(SURNAMES.len(), SURNAMES_ZH.len());
        assert_eq!(GIVEN.len(), GIVEN_ZH.len());
        assert_eq!(TOWNS.len(), TOWNS_ZH.len());
    }
}
