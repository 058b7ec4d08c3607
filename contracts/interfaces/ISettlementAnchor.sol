// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title ISettlementAnchor
/// @notice Write-once registry of settlement-batch Merkle roots. Batch ids are a sequence starting
/// at 1; each id holds exactly one root forever. A correction is a new batch that names the batch it
/// corrects. Inclusion of a settlement is verified with a view call (leaf + proof + batch id).
/// @dev Leaves are built like `@openzeppelin/merkle-tree`'s StandardMerkleTree:
/// `keccak256(bytes.concat(keccak256(abi.encode(...))))` (64-byte leaves never occur, so an inner
/// node can never pass as a leaf). The batch's settlement count and per-currency totals digest are
/// committed in the `BatchAnchored` event, not in storage, to keep one storage slot per batch.
interface ISettlementAnchor {
    /// @notice Thrown when a batch id is 0 (0 is reserved for "no batch").
    /// @param batchId The rejected batch id.
    error InvalidBatchId(uint64 batchId);

    /// @notice Thrown when the root is zero (zero marks an unanchored batch id).
    /// @param batchId The batch the empty root was submitted for.
    error EmptyRoot(uint64 batchId);

    /// @notice Thrown when a batch declares zero settlements.
    /// @param batchId The batch declared empty.
    error EmptyBatch(uint64 batchId);

    /// @notice Thrown when the batch id already holds a root: anchored roots can never be overwritten.
    /// @param batchId The batch id submitted again.
    /// @param existingRoot The root already anchored under that id.
    error BatchAlreadyAnchored(uint64 batchId, bytes32 existingRoot);

    /// @notice Thrown when a correction names a batch that is not an earlier, anchored batch.
    /// @param batchId The correcting batch.
    /// @param corrects The batch it claims to correct.
    error InvalidCorrectionTarget(uint64 batchId, uint64 corrects);

    /// @notice Thrown when verifying against a batch id that holds no root.
    /// @param batchId The unanchored batch id.
    error BatchNotAnchored(uint64 batchId);

    /// @notice Emitted when a batch root is anchored.
    /// @param batchId The batch id (sequence number; a gap in the sequence is visible in these events).
    /// @param root The Merkle root of the batch's settlement leaves.
    /// @param count The number of settlement leaves in the batch.
    /// @param totalsDigest The digest of the batch's per-currency totals, as computed by the service.
    event BatchAnchored(uint64 indexed batchId, bytes32 root, uint32 count, bytes32 totalsDigest);

    /// @notice Emitted, after `BatchAnchored`, when the anchored batch corrects an earlier one.
    /// @param batchId The correcting batch.
    /// @param corrects The earlier batch it corrects (which stays anchored, unchanged).
    event BatchCorrected(uint64 indexed batchId, uint64 indexed corrects);

    /// @notice Emitted when a pauser revokes an anchorer in an emergency (no admin key needed).
    /// @param account The account whose ANCHOR_ROLE was revoked.
    /// @param by The pauser who revoked it.
    event AnchorerFrozen(address indexed account, address indexed by);

    /// @notice Anchors the Merkle root of a settlement batch. Callable by ANCHOR_ROLE only.
    /// @param batchId The batch id (> 0, never anchored before).
    /// @param root The Merkle root (non-zero).
    /// @param count The number of settlements in the batch (> 0).
    /// @param totalsDigest The digest of per-currency totals.
    function anchorBatch(uint64 batchId, bytes32 root, uint32 count, bytes32 totalsDigest) external;

    /// @notice Anchors a batch that corrects an earlier, already anchored batch. Callable by ANCHOR_ROLE.
    /// @param batchId The batch id (> 0, never anchored before).
    /// @param root The Merkle root (non-zero).
    /// @param count The number of settlements in the batch (> 0).
    /// @param totalsDigest The digest of per-currency totals.
    /// @param corrects The earlier batch id being corrected (0 < corrects < batchId, anchored).
    function anchorCorrection(
        uint64 batchId,
        bytes32 root,
        uint32 count,
        bytes32 totalsDigest,
        uint64 corrects
    ) external;

    /// @notice Revokes ANCHOR_ROLE from an account. Callable by PAUSER_ROLE: the fast emergency stop
    /// for a leaked anchoring key, which does not need the admin key. Re-granting needs the admin.
    /// @param account The anchorer to freeze.
    function freezeAnchorer(address account) external;

    /// @notice Returns the root anchored for a batch id, or zero if none.
    /// @param batchId The batch id.
    /// @return The anchored root.
    function rootOf(uint64 batchId) external view returns (bytes32);

    /// @notice Tells whether a leaf is included in an anchored batch.
    /// @dev Reverts with `BatchNotAnchored` for an unknown batch id, so "unknown" and "not included"
    /// are never confused.
    /// @param batchId The batch id.
    /// @param leaf The leaf hash (`keccak256(bytes.concat(keccak256(abi.encode(...))))`).
    /// @param proof The Merkle proof (sibling hashes, sorted-pair hashing as in OZ MerkleProof).
    /// @return True if the leaf is in the batch's tree.
    function verifySettlement(uint64 batchId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool);

    /// @notice The role allowed to anchor batches.
    function ANCHOR_ROLE() external view returns (bytes32);

    /// @notice The role allowed to freeze anchorers.
    function PAUSER_ROLE() external view returns (bytes32);
}
