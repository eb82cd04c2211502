//! Why a graph was not obtained. The engine branches on `Unavailable` (fall back to the last
//! good graph, with a warning) versus everything else (refuse; nothing is staged).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum FetchError {
    /// The source could not be reached or answered with a temporary failure.
    #[error("{source_name} is unavailable: {reason}")]
    Unavailable { source_name: String, reason: String },
    /// The answer was bigger than allowed.
    #[error("{source_name}: the graph is larger than the limit of {limit} bytes")]
    TooLarge { source_name: String, limit: u64 },
    /// Redirect loop or too many hops.
    #[error("{source_name}: more than {limit} redirects")]
    TooManyRedirects { source_name: String, limit: usize },
    /// The source answered, and the answer is not a graph we can use (404, wrong artifact…).
    #[error("{source_name}: {reason}")]
    Refused { source_name: String, reason: String },
}

impl FetchError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}
