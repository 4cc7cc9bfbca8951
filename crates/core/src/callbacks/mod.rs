//! What Carat's POSTs do: each applied and kept in the callback inbox in one transaction, and
//! the answer Carat gets decided here, so that the HTTP door only reads the form and writes
//! the answer.

pub mod status;
