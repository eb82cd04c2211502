//! The explicit edge list of a graph under Cincinnati's rules, for display and for checking
//! imported Cincinnati graphs. The planner does not build edges; it walks segments.

use super::UpdateGraph;

/// Every update edge `(from, to)` by position, ignoring rollout throttling: into each target T
/// from the last checkpoint before T (inclusive, or the first release) up to T, never out of a
/// dead-end. Sorted by `(from, to)`.
pub fn edges(graph: &UpdateGraph) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut last_checkpoint = 0;
    for (t, rel) in graph.releases.iter().enumerate() {
        if rel.is_target() {
            out.extend(
                (last_checkpoint..t)
                    .filter(|&f| graph.releases[f].deadend.is_none())
                    .map(|f| (f, t)),
            );
        }
        if rel.checkpoint.is_some() {
            last_checkpoint = t;
        }
    }
    out.sort_unstable();
    out
}
