// SPDX-License-Identifier: GPL-2.0-or-later
//! Maps applications onto SpiNNaker machines and runs them on a target.
//!
//! The steps, each a plain function: [`graph::split`] application vertices into
//! machine vertices, [`place::place`] them on cores, [`keys::allocate_keys`] per
//! partition, [`route::route`] multicast trees, [`tables::build_tables`] and
//! [`tables::compress_tables`] (with [`compress`]'s ordered covering) to fit the
//! routers; [`target`] is where an application runs (the simulator now, a real
//! board later).

#![warn(missing_docs)]

pub mod board;
pub mod boot;
pub mod compress;
pub mod graph;
pub mod keys;
pub mod mapping;
pub mod place;
pub mod route;
#[cfg(feature = "sim")]
pub mod sim_target;
pub mod tables;
pub mod target;

pub use compress::{
    lookup, minimise, remove_default_routes, CompressError, Entry, ROUTER_CAPACITY, SOURCE_LOCAL,
};
pub use graph::{
    split, AppGraph, AppPartitionId, AppVertexId, MachineGraph, MachineVertex, MachineVertexId,
    PartitionId, Vertex,
};
pub use keys::{allocate_key_blocks, allocate_keys, KeyMap, KeySpace};
pub use mapping::{map, Algorithms, Mapping, SdramLayout};
pub use place::{place, MapError, Placement, Placements};
pub use route::{route, RoutingTree, RoutingTrees, TreeNode};
pub use tables::{build_tables, compress_tables, to_route_entries, Tables};
