//! Property tests of the dependency resolver against petgraph's own cycle check.

use gander::engine::config::DepKind;
use gander::engine::resolver::DepGraph;
use petgraph::graph::DiGraph;
use proptest::prelude::*;
use std::collections::HashMap;

/// Up to 40 services and 120 edges, self-loops and duplicates included.
fn graphs() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    (1usize..40).prop_flat_map(|n| (Just(n), prop::collection::vec((0..n, 0..n), 0..120)))
}

/// Graphs that are acyclic by construction: edges only go from higher to lower index.
fn dags() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    graphs().prop_map(|(n, edges)| {
        let edges = edges
            .into_iter()
            .filter(|(a, b)| a != b)
            .map(|(a, b)| if a > b { (a, b) } else { (b, a) })
            .collect();
        (n, edges)
    })
}

fn names(n: usize) -> Vec<String> {
    // Shuffled-looking names so that name order differs from index order.
    (0..n).map(|i| format!("svc-{:02}", (i * 7) % 41)).collect()
}

fn build(n: usize, edges: &[(usize, usize)]) -> DepGraph {
    let names = names(n);
    DepGraph::new(
        names.iter().map(String::as_str),
        edges
            .iter()
            .map(|&(a, b)| (names[a].as_str(), names[b].as_str(), DepKind::Runtime)),
    )
}

fn is_cyclic(n: usize, edges: &[(usize, usize)]) -> bool {
    let mut g = DiGraph::<(), ()>::new();
    let nodes: Vec<_> = (0..n).map(|_| g.add_node(())).collect();
    for &(a, b) in edges {
        g.add_edge(nodes[a], nodes[b], ());
    }
    petgraph::algo::is_cyclic_directed(&g)
}

proptest! {
    #[test]
    fn the_order_respects_every_edge_and_lists_each_service_once((n, edges) in dags()) {
        let g = build(n, &edges);
        let order = g.order().expect("a DAG has an order");
        let pos: HashMap<&str, usize> = order.iter().enumerate().map(|(i, s)| (*s, i)).collect();
        let names = names(n);
        prop_assert_eq!(order.len(), n);
        for (a, b) in edges {
            // a depends on b: b comes first.
            prop_assert!(pos[names[b].as_str()] < pos[names[a].as_str()],
                "{} placed before its dependency {}", names[a], names[b]);
        }
    }

    #[test]
    fn the_order_is_stable_whatever_the_input_order((n, edges) in dags()) {
        let a = build(n, &edges);
        let mut rev = edges.clone();
        rev.reverse();
        let b = build(n, &rev);
        prop_assert_eq!(a.order().unwrap(), b.order().unwrap());
    }

    #[test]
    fn a_cycle_is_reported_exactly_when_one_exists((n, edges) in graphs()) {
        let g = build(n, &edges);
        let cyclic = is_cyclic(n, &edges);
        let found = g.cycles();
        prop_assert_eq!(!found.cycles.is_empty(), cyclic);
        prop_assert_eq!(g.order().is_err(), cyclic);
        // Every reported cycle is real: closed, and each step is a dependency edge.
        let names = names(n);
        let idx: HashMap<&str, usize> = names.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
        for c in &found.cycles {
            prop_assert!(c.len() >= 2);
            prop_assert_eq!(c.first(), c.last());
            for w in c.windows(2) {
                let (a, b) = (idx[w[0].as_str()], idx[w[1].as_str()]);
                prop_assert!(edges.contains(&(a, b)), "{} -> {} is not an edge", w[0], w[1]);
            }
            // Elementary: no service repeats except the closing one.
            let mut inner: Vec<&String> = c[..c.len() - 1].iter().collect();
            inner.sort();
            inner.dedup();
            prop_assert_eq!(inner.len(), c.len() - 1);
        }
    }

    #[test]
    fn upstream_and_downstream_mirror_each_other((n, edges) in graphs()) {
        let g = build(n, &edges);
        let names = names(n);
        for a in &names {
            for b in g.upstream(a) {
                prop_assert!(g.downstream(b).contains(&a.as_str()));
            }
        }
    }

    #[test]
    fn root_causes_agree_with_asking_each_service_on_its_own(
        (n, edges) in dags(),
        marks in prop::collection::vec(any::<bool>(), 40),
    ) {
        let g = build(n, &edges);
        let names = names(n);
        let marked: std::collections::HashSet<String> = names
            .iter()
            .zip(&marks)
            .filter(|(_, m)| **m)
            .map(|(s, _)| s.clone())
            .collect();
        let causes = g.root_causes(&marked).expect("a DAG has an order");
        for a in &names {
            // The definition: the first marked upstream with no marked upstream of its
            // own, else the first marked upstream.
            let ups: Vec<&str> = g
                .upstream(a)
                .into_iter()
                .filter(|u| *u != a.as_str() && marked.contains(*u))
                .collect();
            let expected = ups
                .iter()
                .find(|u| {
                    !g.upstream(u)
                        .into_iter()
                        .any(|x| x != **u && marked.contains(x))
                })
                .or(ups.first())
                .copied();
            prop_assert_eq!(causes.get(a.as_str()).copied(), expected, "{}", a);
        }
    }
}
