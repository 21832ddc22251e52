//! The worked example of docs/FORMAT.md §2.6, computed here so the document stays true: the
//! computed values are compared with constants and with the document's own text.
//! Run `cargo test --lib merkle::tests::example -- --nocapture` to print it.

use super::{entry, hx, ref_root, ref_subproof};
use crate::merkle::checkpoint::Checkpoint;
use crate::merkle::hasher::{Blake3, Digest, TreeHasher};
use crate::merkle::key::CheckpointKey;
use crate::merkle::proof::{
    ConsistencyStep, consistency_proof, inclusion_proof, proof_to_bytes, verify_consistency_traced,
    verify_inclusion,
};
use crate::merkle::tree::{MemoryNodes, root};

#[test]
fn worked_example_of_the_format_document() {
    // Stand-ins for real entry hashes: blake3("entry-0"), blake3("entry-1"), blake3("entry-2").
    let entries = [entry(0), entry(1), entry(2)];
    let leaves = entries.map(|e| Blake3.hash_leaf(&e));
    let (store, range) = MemoryNodes::from_entries(Blake3, &entries).expect("build");
    let node01 = Blake3.hash_children(&leaves[0], &leaves[1]);
    let root3 = root(&Blake3, 3, &store).expect("root");
    let proof = inclusion_proof(&Blake3, 1, 3, &store).expect("proof");

    let key = CheckpointKey::from_seed(
        "rotaledger.example",
        blake3::hash(b"rotaledger example key").as_bytes(),
    )
    .expect("key");
    let time = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .expect("time")
        .to_utc();
    let checkpoint =
        Checkpoint::new("rotaledger.example/district-7", 3, root3, time).expect("checkpoint");
    let text = checkpoint.sign(&key).expect("sign").to_text();

    for (i, (e, l)) in entries.iter().zip(&leaves).enumerate() {
        println!("entry {i}: {}\nleaf  {i}: {}", hx(e), hx(l));
    }
    println!("node (1, 0): {}\nroot: {}", hx(&node01), hx(&root3));
    for p in &proof {
        println!("proof: {}", hx(p));
    }
    println!("verifier key: {}\n{text}", key.verifier());

    // The values printed in docs/FORMAT.md §2.6: if this fails, the document is wrong.
    let hexes = |ds: &[[u8; 32]]| ds.iter().map(hx).collect::<Vec<_>>();
    assert_eq!(
        hexes(&entries),
        [
            "3be813c48851c2eef97d38309d27a7b1493fa76aedf74e6bbce0af6c9da1bc5c",
            "751039283e8d8b02f70e63ec1ab925574409b1874ddb442801b87dc55eb05181",
            "51291bf39a547a21db3163db899fdf21eafc40f70884ed26c2e585b376b16454",
        ]
    );
    assert_eq!(
        hexes(&leaves),
        [
            "627f8625f8913e7298a6b4bb495282011fb5c4297243e8f9db2370462f8d2875",
            "fce5f5158b5690a0faec29b6fb85325585eff26b9be5bb8f3bc2f314b03f767c",
            "61e21c8945b77ee1899edd93bcda8d26f063cb92bf316a5ee841b03a9c5f9890",
        ]
    );
    assert_eq!(
        hx(&Blake3.empty_root()),
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
    assert_eq!(checkpoint.body().len(), 103, "the signed message");
    assert_eq!(
        hx(&node01),
        "d6cc37da59f667698af533eadac5b7a72311e175851ff6b40100b12f82b445c8"
    );
    assert_eq!(
        hx(&root3),
        "e5a0b20d52a5f39b479eb2780e81d80838db6c40ac47ce421193d08ee5b0c83e"
    );
    assert_eq!(
        key.verifier().to_string(),
        "rotaledger.example+138da3e9+AXvhOtOTsxh2gg9bugi8DtAsyH8jEL7qh3RCVxXHEXKb"
    );
    assert_eq!(
        text,
        "rotaledger.example/district-7\n\
         3\n\
         5aCyDVKl85tHnrJ4DoHYCDjbbECsR85CEZPQjuWwyD4=\n\
         time 2026-11-22T10:00:00Z\n\
         \n\
         \u{2014} rotaledger.example E42j6d4poKmUxTf9x97x/NEI3ktWKkbuz82mrKomW613YQ2wE++gSU5KLjnEOD6D02z/PRI+uafT+PSLwUfMJUzWHQo=\n"
    );
    assert_eq!(
        proof,
        vec![leaves[0], leaves[2]],
        "the proof of index 1 is its sibling leaf, then leaf 2"
    );
    assert_eq!(root3, Blake3.hash_children(&node01, &leaves[2]));
    assert_eq!(range.root(), root3);
    assert_eq!(proof_to_bytes(&proof).len(), 64);
    verify_inclusion(&Blake3, 1, 3, &leaves[1], &proof, &root3).expect("verifies");
}

/// `docs/FORMAT.md`, whose §2.6 must show what the tests compute.
const FORMAT: &str = include_str!("../../../docs/FORMAT.md");

/// Asserts that the document holds `block` exactly, printing it if not so that the
/// document can be corrected from the output.
fn assert_documented(block: &str) {
    assert!(
        FORMAT.contains(block),
        "docs/FORMAT.md §2.6 does not show what the code computes; it should read:\n\n{block}"
    );
}

#[test]
fn the_documented_values_are_the_computed_ones() {
    // Every value the test above asserts also stands in the document, letter for letter.
    let entries = [entry(0), entry(1), entry(2)];
    let leaves = entries.map(|e| Blake3.hash_leaf(&e));
    let node01 = Blake3.hash_children(&leaves[0], &leaves[1]);
    let root3 = Blake3.hash_children(&node01, &leaves[2]);
    for (i, e) in entries.iter().enumerate() {
        assert_documented(&format!("| entry hash {i} | `{}` |", hx(e)));
    }
    assert_documented(&format!(
        "| leaf 0 = `H(00 \\|\\| entry 0)` = node (0,0) | `{}` |",
        hx(&leaves[0])
    ));
    assert_documented(&format!("| leaf 1 = node (0,1) | `{}` |", hx(&leaves[1])));
    assert_documented(&format!("| leaf 2 = node (0,2) | `{}` |", hx(&leaves[2])));
    assert_documented(&format!(
        "| node (1,0) = `H(01 \\|\\| leaf 0 \\|\\| leaf 1)` | `{}` |",
        hx(&node01)
    ));
    assert_documented(&format!(
        "| root (size 3) = `H(01 \\|\\| node(1,0) \\|\\| leaf 2)` | `{}` |",
        hx(&root3)
    ));
    assert_documented(&format!("```\n{}\n{}\n```", hx(&leaves[0]), hx(&leaves[2])));
    assert_documented(&format!(
        "| empty tree (size 0) | nothing | `H(\"\")` = `{}` |",
        hx(&Blake3.empty_root())
    ));
    let key = CheckpointKey::from_seed(
        "rotaledger.example",
        blake3::hash(b"rotaledger example key").as_bytes(),
    )
    .expect("key");
    let time = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .expect("time")
        .to_utc();
    let text = Checkpoint::new("rotaledger.example/district-7", 3, root3, time)
        .expect("checkpoint")
        .sign(&key)
        .expect("sign")
        .to_text();
    assert_documented(&format!("```\n{}\n```", key.verifier()));
    assert_documented(&format!("```\n{text}```"));
}

/// The leaves of the consistency example: entries `blake3("entry-0") .. blake3("entry-10")`.
const CONSISTENCY_LEAVES: usize = 11;

/// Names a hash of the example tree: `leaf i`, `node (l,i)` for a perfect subtree, or
/// `MTH(D[a:b])` for any other range the proofs use.
fn name_of(leaves: &[Digest], h: &Digest) -> String {
    for len in 1..=leaves.len() {
        for a in 0..=leaves.len() - len {
            if ref_root(&Blake3, &leaves[a..a + len]) != *h {
                continue;
            }
            return if len == 1 {
                format!("leaf {a}")
            } else if len.is_power_of_two() && a % len == 0 {
                format!("node ({},{})", len.trailing_zeros(), a / len)
            } else {
                format!("MTH(D[{a}:{}])", a + len)
            };
        }
    }
    "not a node of the tree".into()
}

/// The text FORMAT.md §2.6 shows for the consistency proof from `old` to `new` leaves: the
/// sizes, roots and proof hashes, then every step of the verification as the real verifier
/// takes it ([`verify_consistency_traced`]).
fn render_consistency(leaves: &[Digest], old: usize, new: usize) -> String {
    let (store, _) =
        MemoryNodes::from_entries(Blake3, &(0..new).map(entry).collect::<Vec<_>>()).expect("build");
    let (o, n) = (old as u64, new as u64);
    let old_root = root(&Blake3, o, &store).expect("old root");
    let new_root = root(&Blake3, n, &store).expect("new root");
    assert_eq!(old_root, ref_root(&Blake3, &leaves[..old]));
    assert_eq!(new_root, ref_root(&Blake3, &leaves[..new]));
    let proof = consistency_proof(&Blake3, o, n, &store).expect("proof");
    assert_eq!(proof, ref_subproof(&Blake3, old, &leaves[..new], true));

    let mut steps = Vec::new();
    verify_consistency_traced(&Blake3, o, n, &old_root, &new_root, &proof, |s| {
        steps.push(s)
    })
    .expect("verifies");

    let name = |h: &Digest| name_of(leaves, h);
    let mut out = format!("```\nold size {old}, new size {new}\n");
    out += &format!("old root  {}  = {}\n", hx(&old_root), name(&old_root));
    out += &format!("new root  {}  = {}\n", hx(&new_root), name(&new_root));
    for (i, p) in proof.iter().enumerate() {
        out += &format!("proof[{i}]  {}  = {}\n", hx(p), name(p));
    }
    out += "```\n\n";
    let pair = |(f, s): (u64, u64)| format!("`fn = {f}`, `sn = {s}`");
    for step in steps {
        match step {
            ConsistencyStep::Start {
                old_root_prepended,
                initial,
                shifted,
                first,
            } => {
                out += &if old_root_prepended {
                    format!(
                        "- Step 2: {old} is a power of two: the path is the old root, then the \
                         {} proof hashes.\n",
                        proof.len()
                    )
                } else {
                    format!("- Step 2: {old} is not a power of two: the path is the proof.\n")
                };
                out += &format!("- Step 3: {}.\n", pair(initial));
                out += &if shifted == initial {
                    "- Step 4: `fn` is even: nothing to shift.\n".to_owned()
                } else {
                    format!(
                        "- Step 4: `fn` is odd: shift both right until it is even: {}.\n",
                        pair(shifted)
                    )
                };
                out += &format!(
                    "- Step 5: `fr = sr = path[0]` = `{}` ({}).\n",
                    hx(&first),
                    name(&first)
                );
            }
            ConsistencyStep::Hash {
                position,
                c,
                before: (f, s),
                both,
                fr,
                sr,
                inner,
                after,
            } => {
                out += &format!("- Step 6, `c = path[{position}]` ({}): ", name(&c));
                if both {
                    out += &if f & 1 == 1 {
                        format!("`fn = {f}` is odd: ")
                    } else {
                        format!("`fn = sn = {f}`: ")
                    };
                    out += &format!(
                        "`fr = H(01 || c || fr)` = `{}` ({}), `sr = H(01 || c || sr)` = `{}` ({}); ",
                        hx(&fr),
                        name(&fr),
                        hx(&sr),
                        name(&sr)
                    );
                    if let Some(i) = inner {
                        out += &format!(
                            "`fn` is even: shift both right until `fn` is odd or 0: {}; ",
                            pair(i)
                        );
                    }
                } else {
                    out += &format!(
                        "`fn = {f}` is even and not `sn = {s}`: `sr = H(01 || sr || c)` = `{}` \
                         ({}), `fr` unchanged; ",
                        hx(&sr),
                        name(&sr)
                    );
                }
                out += &format!("shift: {}.\n", pair(after));
            }
        }
    }
    out += "- Step 7: `sn = 0`, `fr` is the old root and `sr` the new root: verified.\n";
    out
}

#[test]
fn worked_consistency_proofs_of_the_format_document() {
    let leaves: Vec<Digest> = (0..CONSISTENCY_LEAVES)
        .map(|i| Blake3.hash_leaf(&entry(i)))
        .collect();
    // From 10 to 11 leaves: every branch of the algorithm (old size not a power of two, the
    // shift of step 4, both cases of step 6 and its inner shift). From 4: the old root
    // starts the path.
    for old in [10, 4] {
        let text = render_consistency(&leaves, old, CONSISTENCY_LEAVES);
        println!("{text}");
        assert_documented(&text);
    }
}
