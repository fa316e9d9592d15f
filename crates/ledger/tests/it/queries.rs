//! `latest` and `all` over a real file, across more rows than one page.

use countersign_ledger::Filter;

use crate::common::{event, Fixture};

#[test]
fn latest_and_all_page_through_every_matching_row() {
    let f = Fixture::new();
    let mut l = f.open();
    let evs: Vec<_> = (0..1203).map(event).collect();
    l.append_batch(&evs).unwrap();
    let all = l.all(&Filter::default()).unwrap();
    assert_eq!(
        all.len(),
        1203,
        "all() must follow next_after past the 500-row pages"
    );
    assert!(
        all.windows(2).all(|w| w[0].seq + 1 == w[1].seq),
        "oldest first, no gaps or repeats"
    );
    let newest = l.latest(&Filter::default()).unwrap().unwrap();
    assert_eq!(newest.seq, 1203);
    let none = Filter {
        person: Some("nobody-by-this-name".into()),
        ..Default::default()
    };
    assert!(l.latest(&none).unwrap().is_none());
    assert!(l.all(&none).unwrap().is_empty());
}
