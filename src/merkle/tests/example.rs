//! The worked example of docs/FORMAT.md §2.6, computed here so the document stays true.
//! Run `cargo test --lib merkle::tests::example -- --nocapture` to print it.

use super::{entry, hx};
use crate::merkle::checkpoint::Checkpoint;
use crate::merkle::hasher::{Blake3, TreeHasher};
use crate::merkle::key::CheckpointKey;
use crate::merkle::proof::{inclusion_proof, proof_to_bytes, verify_inclusion};
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
