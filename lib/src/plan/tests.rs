//! Planner tests: named cases and proptest properties over random graphs.
