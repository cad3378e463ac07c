//! The `tessera` binary driven as an operator runs it: several processes, their databases and
//! Redis, and the faults they must survive.

mod faults;
mod helpers;
mod instances;
