//! Table-driven tests of the domain: given a history, when an append, then accepted or
//! rejected by a named rule; and projections at their edges.

mod docs;
mod given;
mod projections;
mod props;
mod rules;
mod state;
mod stored;
