//! The dependency graph: promotion order, cycles, blast radius.
//!
//! An edge `a -> b` means "a depends on b", the way a person reads a cycle
//! (`service-a -> service-c -> service-a`). Node indices follow the names' sorted
//! order, so "smallest index" is "first by name" and ties break stably for free.

use super::config::{Config, DepKind};
use petgraph::Direction::{Incoming, Outgoing};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// At most this many cycles are listed per strongly connected component: a dense
/// tangle has exponentially many, and the first few are what a person fixes.
pub const MAX_CYCLES_PER_COMPONENT: usize = 10;
/// Search budget (edges followed) per component when listing further cycles.
const CYCLE_SEARCH_BUDGET: usize = 100_000;

#[derive(Debug, Clone)]
pub struct DepGraph {
    names: Vec<String>,
    index: HashMap<String, u32>,
    graph: DiGraph<(), DepKind, u32>,
    /// Computed once: `cycle_through` asks for it per service.
    cycles_cache: std::sync::OnceLock<Cycles>,
}

/// Cycles found in the graph. Each path starts and ends with the same service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cycles {
    pub cycles: Vec<Vec<String>>,
    /// True when a component had more cycles than were listed.
    pub truncated: bool,
}

impl DepGraph {
    /// Build from names and `(dependent, dependency, kind)` edges. Edges naming an
    /// unknown service are skipped (validation reports them).
    pub fn new<'a>(
        names: impl IntoIterator<Item = &'a str>,
        edges: impl IntoIterator<Item = (&'a str, &'a str, DepKind)>,
    ) -> Self {
        let mut names: Vec<String> = names.into_iter().map(str::to_string).collect();
        names.sort();
        names.dedup();
        let mut graph = DiGraph::with_capacity(names.len(), 0);
        let mut index = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            graph.add_node(());
            index.insert(n.clone(), i as u32);
        }
        for (from, to, kind) in edges {
            if let (Some(&a), Some(&b)) = (index.get(from), index.get(to)) {
                graph.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), kind);
            }
        }
        DepGraph {
            names,
            index,
            graph,
            cycles_cache: std::sync::OnceLock::new(),
        }
    }

    pub fn from_config(config: &Config) -> Self {
        DepGraph::new(
            config.services.iter().map(|s| s.name()),
            config.services.iter().flat_map(|s| {
                s.def
                    .spec
                    .dependencies
                    .all()
                    .map(move |(k, d)| (s.name(), d, k))
            }),
        )
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    fn node(&self, name: &str) -> Option<NodeIndex<u32>> {
        self.index.get(name).map(|&i| NodeIndex::new(i as usize))
    }

    fn name(&self, n: NodeIndex<u32>) -> &str {
        &self.names[n.index()]
    }

    /// The promotion order: every service after all of its dependencies, ties broken
    /// by name. Fails with every cycle when there is one.
    pub fn order(&self) -> Result<Vec<&str>, Cycles> {
        let n = self.names.len();
        // Kahn's algorithm on "depends on" edges: a service is ready when all of the
        // services it depends on are placed.
        let mut pending: Vec<u32> = (0..n)
            .map(|i| {
                self.graph
                    .edges_directed(NodeIndex::new(i), Outgoing)
                    .count() as u32
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<u32>> = (0..n as u32)
            .filter(|&i| pending[i as usize] == 0)
            .map(Reverse)
            .collect();
        let mut out = Vec::with_capacity(n);
        while let Some(Reverse(i)) = ready.pop() {
            out.push(self.names[i as usize].as_str());
            for e in self
                .graph
                .edges_directed(NodeIndex::new(i as usize), Incoming)
            {
                let dependent = petgraph::visit::EdgeRef::source(&e).index();
                pending[dependent] -= 1;
                if pending[dependent] == 0 {
                    ready.push(Reverse(dependent as u32));
                }
            }
        }
        if out.len() == n {
            Ok(out)
        } else {
            Err(self.cycles())
        }
    }

    /// Every cycle, listed per strongly connected component (capped, see
    /// [`MAX_CYCLES_PER_COMPONENT`]). Empty exactly when the graph is acyclic.
    pub fn cycles(&self) -> Cycles {
        let mut cycles = Vec::new();
        let mut truncated = false;
        let mut comp_of = vec![usize::MAX; self.names.len()];
        let mut comps = petgraph::algo::tarjan_scc(&self.graph);
        for c in comps.iter_mut() {
            c.sort();
        }
        comps.sort();
        for (ci, comp) in comps.iter().enumerate() {
            for n in comp {
                comp_of[n.index()] = ci;
            }
        }
        for (ci, comp) in comps.iter().enumerate() {
            let start = comp[0];
            let cyclic = comp.len() > 1 || self.graph.find_edge(start, start).is_some();
            if !cyclic {
                continue;
            }
            let in_comp = |n: NodeIndex<u32>| comp_of[n.index()] == ci;
            // The shortest cycle through the component's first service is always found.
            let first = self.shortest_cycle(start, &in_comp);
            let mut found: Vec<Vec<NodeIndex<u32>>> = vec![first];
            truncated |= self.more_cycles(comp, &in_comp, &mut found);
            for c in found {
                cycles.push(c.into_iter().map(|n| self.name(n).to_string()).collect());
            }
        }
        Cycles { cycles, truncated }
    }

    /// Breadth-first from `start` back to itself inside its component.
    fn shortest_cycle(
        &self,
        start: NodeIndex<u32>,
        in_comp: &dyn Fn(NodeIndex<u32>) -> bool,
    ) -> Vec<NodeIndex<u32>> {
        let mut prev: HashMap<NodeIndex<u32>, NodeIndex<u32>> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex<u32>> = self.graph.neighbors(n).collect();
            next.sort();
            for m in next {
                if m == start {
                    let mut rev = Vec::new();
                    let mut cur = n;
                    while cur != start {
                        rev.push(cur);
                        cur = prev[&cur];
                    }
                    rev.reverse();
                    let mut path = vec![start];
                    path.extend(rev);
                    path.push(start);
                    return path;
                }
                if in_comp(m) && !prev.contains_key(&m) && m != start {
                    prev.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        unreachable!("a node in a cyclic component reaches itself")
    }

    /// Depth-first listing of further elementary cycles, each started at its smallest
    /// node so that every cycle is found once. Returns true if the cap or the search
    /// budget was reached.
    fn more_cycles(
        &self,
        comp: &[NodeIndex<u32>],
        in_comp: &dyn Fn(NodeIndex<u32>) -> bool,
        found: &mut Vec<Vec<NodeIndex<u32>>>,
    ) -> bool {
        let mut budget = CYCLE_SEARCH_BUDGET;
        let mut on_path = vec![false; self.names.len()];
        for &s in comp {
            let mut path = vec![s];
            on_path[s.index()] = true;
            // Stack of (node, its sorted successors, next successor to try).
            let succ = |n: NodeIndex<u32>| {
                let mut v: Vec<NodeIndex<u32>> = self
                    .graph
                    .neighbors(n)
                    .filter(|&m| in_comp(m) && m >= s)
                    .collect();
                v.sort();
                v.dedup();
                v
            };
            let mut stack = vec![(succ(s), 0usize)];
            while let Some((next, i)) = stack.last_mut() {
                if *i >= next.len() {
                    stack.pop();
                    if let Some(n) = path.pop() {
                        on_path[n.index()] = false;
                    }
                    continue;
                }
                let m = next[*i];
                *i += 1;
                if budget == 0 {
                    for n in path {
                        on_path[n.index()] = false;
                    }
                    return true;
                }
                budget -= 1;
                if m == s {
                    let mut cycle = path.clone();
                    cycle.push(s);
                    if !found.contains(&cycle) {
                        if found.len() >= MAX_CYCLES_PER_COMPONENT {
                            for n in path {
                                on_path[n.index()] = false;
                            }
                            return true;
                        }
                        found.push(cycle);
                    }
                } else if !on_path[m.index()] {
                    on_path[m.index()] = true;
                    path.push(m);
                    stack.push((succ(m), 0));
                }
            }
        }
        false
    }

    /// Every service `name` depends on, directly or not, sorted by name.
    pub fn upstream(&self, name: &str) -> Vec<&str> {
        self.reach(name, Outgoing)
    }

    /// Every service that depends on `name`, directly or not (its blast radius).
    pub fn downstream(&self, name: &str) -> Vec<&str> {
        self.reach(name, Incoming)
    }

    /// Direct dependencies of `name` with their kinds, sorted.
    pub fn direct(&self, name: &str) -> Vec<(&str, DepKind)> {
        let Some(n) = self.node(name) else {
            return Vec::new();
        };
        let mut v: Vec<(&str, DepKind)> = self
            .graph
            .edges_directed(n, Outgoing)
            .map(|e| (self.name(petgraph::visit::EdgeRef::target(&e)), *e.weight()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn reach(&self, name: &str, dir: petgraph::Direction) -> Vec<&str> {
        let Some(start) = self.node(name) else {
            return Vec::new();
        };
        // Proportional to what is reached, not to the graph: at 10,000 services a
        // bitmap of every node per call made the Alerts grouping quadratic.
        let mut seen = std::collections::HashSet::from([start]);
        let mut stack = vec![start];
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            for m in self.graph.neighbors_directed(n, dir) {
                if seen.insert(m) {
                    out.push(m);
                    stack.push(m);
                }
            }
        }
        out.sort();
        out.into_iter().map(|n| self.name(n)).collect()
    }

    /// For every service with a `marked` service upstream (directly or not), the root
    /// cause: the first of its marked upstreams (in the graph's order) that has no
    /// marked upstream of its own. One pass over the graph in dependency order, so it
    /// costs the same for 10 marked services as for 1,000. `None` when the graph has a
    /// cycle (there is no dependency order to pass in).
    pub fn root_causes(
        &self,
        marked: &std::collections::HashSet<String>,
    ) -> Option<HashMap<&str, &str>> {
        let order = self.order().ok()?;
        let n = self.names.len();
        // For each node: does it have a marked strict upstream, and the first root
        // cause among them.
        let mut has_marked_up = vec![false; n];
        let mut best: Vec<Option<NodeIndex<u32>>> = vec![None; n];
        for name in order {
            let Some(v) = self.node(name) else { continue };
            for d in self.graph.neighbors_directed(v, Outgoing) {
                let d_marked = marked.contains(self.name(d));
                if d_marked || has_marked_up[d.index()] {
                    has_marked_up[v.index()] = true;
                }
                let candidate = if d_marked && !has_marked_up[d.index()] {
                    Some(d)
                } else {
                    best[d.index()]
                };
                best[v.index()] = match (best[v.index()], candidate) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        Some(
            best.iter()
                .enumerate()
                .filter_map(|(i, b)| b.map(|c| (self.names[i].as_str(), self.name(c))))
                .collect(),
        )
    }

    /// For each upstream service, the direct dependency of `name` through which it is
    /// reached (itself when direct), for "service-a (via service-b)" messages.
    pub fn upstream_via(&self, name: &str) -> Vec<(&str, &str)> {
        let Some(start) = self.node(name) else {
            return Vec::new();
        };
        // A map, not a slot per node: the cost follows what is reached (this runs for
        // every service on every recompute).
        let mut via: HashMap<NodeIndex<u32>, NodeIndex<u32>> = HashMap::new();
        let mut queue = VecDeque::new();
        let mut direct: Vec<NodeIndex<u32>> = self.graph.neighbors(start).collect();
        direct.sort();
        for d in direct {
            if d != start && !via.contains_key(&d) {
                via.insert(d, d);
                queue.push_back(d);
            }
        }
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex<u32>> = self.graph.neighbors(n).collect();
            next.sort();
            for m in next {
                if m != start && !via.contains_key(&m) {
                    let d = via[&n];
                    via.insert(m, d);
                    queue.push_back(m);
                }
            }
        }
        // Names are indexed in sorted order: sorting indices sorts names, without
        // comparing strings.
        let mut out: Vec<(NodeIndex<u32>, NodeIndex<u32>)> = via.into_iter().collect();
        out.sort_unstable();
        out.into_iter()
            .map(|(n, d)| (self.name(n), self.name(d)))
            .collect()
    }

    /// The cycle `name` is part of, if any (the first listed through it).
    pub fn cycle_through(&self, name: &str) -> Option<Vec<String>> {
        self.cycles_cache
            .get_or_init(|| self.cycles())
            .cycles
            .iter()
            .find(|c| c.iter().any(|n| n == name))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DepKind::Runtime as R;

    fn g(names: &[&str], edges: &[(&str, &str)]) -> DepGraph {
        DepGraph::new(names.iter().copied(), edges.iter().map(|&(a, b)| (a, b, R)))
    }

    #[test]
    fn dependencies_come_first_and_ties_break_by_name() {
        let g = g(
            &["service-c", "service-b", "service-a", "zeta", "alpha"],
            &[
                ("service-b", "service-a"),
                ("service-c", "service-a"),
                ("service-c", "service-b"),
            ],
        );
        assert_eq!(
            g.order().unwrap(),
            vec!["alpha", "service-a", "service-b", "service-c", "zeta"]
        );
    }

    #[test]
    fn a_cycle_names_its_whole_path() {
        let g = g(
            &["service-a", "service-b", "service-c"],
            &[
                ("service-a", "service-c"),
                ("service-c", "service-b"),
                ("service-b", "service-a"),
            ],
        );
        let err = g.order().unwrap_err();
        assert_eq!(
            err.cycles,
            vec![vec!["service-a", "service-c", "service-b", "service-a"]]
        );
        assert!(!err.truncated);
    }

    #[test]
    fn every_cycle_is_listed() {
        // Two separate cycles and one component holding two cycles through `x`.
        let g = g(
            &["a", "b", "c", "d", "x", "y", "z"],
            &[
                ("a", "b"),
                ("b", "a"),
                ("c", "d"),
                ("d", "c"),
                ("x", "y"),
                ("y", "x"),
                ("x", "z"),
                ("z", "x"),
            ],
        );
        let c = g.cycles().cycles;
        assert_eq!(
            c,
            vec![
                vec!["a", "b", "a"],
                vec!["c", "d", "c"],
                vec!["x", "y", "x"],
                vec!["x", "z", "x"],
            ]
        );
    }

    #[test]
    fn a_self_dependency_is_a_cycle() {
        let g = g(&["a", "b"], &[("a", "a")]);
        assert_eq!(g.cycles().cycles, vec![vec!["a", "a"]]);
        assert!(g.order().is_err());
    }

    #[test]
    fn upstream_and_downstream_are_transitive() {
        let g = g(&["a", "b", "c", "d"], &[("b", "a"), ("c", "b"), ("d", "a")]);
        assert_eq!(g.upstream("c"), vec!["a", "b"]);
        assert_eq!(g.downstream("a"), vec!["b", "c", "d"]);
        assert_eq!(g.downstream("c"), Vec::<&str>::new());
        assert_eq!(g.upstream_via("c"), vec![("a", "b"), ("b", "b")]);
        assert!(g.upstream("nope").is_empty());
    }
}
