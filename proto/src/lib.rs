// SPDX-License-Identifier: GPL-2.0-or-later
//! spinn-proto: the byte formats a SpiNNaker host speaks (hardware notes §5 and §6.1).
//!
//! - [`sdp`]: SDP messages as carried in UDP datagrams (2 padding bytes, 8-byte header, data);
//! - [`scp`]: SCP requests and replies inside SDP data, with SC&MP's command and return codes;
//! - [`aplx`]: APLX load tables, built from segments and interpreted into memory writes.
//!
//! Nothing here panics on any input: every malformation is a [`ProtoError`].

#![warn(missing_docs)]

pub mod aplx;
pub mod scp;
pub mod sdp;

/// Why bytes are not a valid SDP message, SCP request or reply, or APLX table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// A UDP datagram shorter than the 2 padding bytes plus the 8-byte SDP header.
    #[error("UDP datagram of {len} bytes is shorter than the 10 bytes of padding and SDP header")]
    UdpTooShort {
        /// Datagram length.
        len: usize,
    },
    /// SDP data longer than SC&MP accepts (16 bytes of SCP header plus 256 of data).
    #[error("SDP data of {len} bytes is longer than the {max} SC&MP accepts")]
    SdpDataTooLong {
        /// Data length.
        len: usize,
        /// Largest accepted length.
        max: usize,
    },
    /// SDP data shorter than an SCP request header (cmd_rc, seq and three arguments).
    #[error("SCP request of {len} bytes is shorter than its 16-byte header")]
    ScpRequestTooShort {
        /// Length of the SDP data.
        len: usize,
    },
    /// SDP data shorter than an SCP reply header (cmd_rc and seq).
    #[error("SCP reply of {len} bytes is shorter than its 4-byte header")]
    ScpReplyTooShort {
        /// Length of the SDP data.
        len: usize,
    },
    /// SCP payload longer than 256 bytes.
    #[error("SCP data of {len} bytes is longer than 256")]
    ScpDataTooLong {
        /// Payload length.
        len: usize,
    },
    /// An APLX table whose length is not a whole number of 16-byte entries, or that ends
    /// without an END entry.
    #[error("APLX table truncated at byte {offset}: an entry needs 16 bytes")]
    AplxTruncated {
        /// Offset of the incomplete entry.
        offset: usize,
    },
    /// More APLX entries than the caller allows before END or EXEC.
    #[error("APLX table has more than {max} entries before its end")]
    AplxTooManyEntries {
        /// The limit.
        max: usize,
    },
    /// An ACOPY entry (copy from an absolute address): interpreting it needs the machine's memory.
    #[error("APLX entry at byte {offset}: ACOPY (copy from absolute address {src:#010x}) is not supported")]
    AplxAcopyUnsupported {
        /// Offset of the entry.
        offset: usize,
        /// Its source address.
        src: u32,
    },
    /// A copy or fill whose addresses wrap past the top of the 32-bit address space.
    #[error("APLX entry at byte {offset}: range at {addr:#010x} of {len:#x} bytes wraps around")]
    AplxWraps {
        /// Offset of the entry.
        offset: usize,
        /// Start address.
        addr: u32,
        /// Length in bytes (rounded as the loader rounds it).
        len: u64,
    },
    /// An RCOPY whose source starts before the table or beyond its end.
    #[error("APLX entry at byte {offset}: relative copy source {src:#x} is outside the image")]
    AplxSourceOutside {
        /// Offset of the entry.
        offset: usize,
        /// Source offset, relative to the entry.
        src: u32,
    },
    /// Copies and fills adding up to more bytes than any SpiNNaker memory holds.
    #[error("APLX image writes more than {max} bytes")]
    AplxTooLarge {
        /// The limit.
        max: u64,
    },
    /// A segment that [`aplx::build`] cannot express: the loader copies whole words, so every
    /// segment must start on a word boundary.
    #[error("segment at {addr:#010x} is not word-aligned")]
    AplxUnalignedSegment {
        /// Segment address.
        addr: u32,
    },
    /// A segment whose memory size is smaller than its file bytes, or that wraps around.
    #[error("segment at {addr:#010x}: {reason}")]
    AplxBadSegment {
        /// Segment address.
        addr: u32,
        /// What is wrong.
        reason: &'static str,
    },
}
