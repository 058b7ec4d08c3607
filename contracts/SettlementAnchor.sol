// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ISettlementAnchor} from "./interfaces/ISettlementAnchor.sol";

/// @title SettlementAnchor
/// @notice Write-once registry of settlement-batch Merkle roots; see {ISettlementAnchor}.
/// @dev Gas design (target <= 50,000 per batch whatever its size): 21,000 base + 22,100 for the one
/// new slot + 2,100 for the cold role read leave ~4,800 for calldata, the event and execution. That
/// rules out every other cold access:
/// - No head/sequence slot and no read of `_roots[batchId - 1]` (2,100 each): the sequence is
///   checked off chain instead. Ids are expected to be consecutive; a gap is visible to anyone from
///   the `BatchAnchored` events or `rootOf`, and history cannot be rewritten because a root, once
///   written, can never change (the overwrite check reads the very slot it then writes, so it costs
///   nothing extra: SSTORE after a cold SLOAD of the same slot is 20,000 + 2,100).
/// - No pause flag on the anchoring path (a cold SLOAD, 2,100): anchoring moves no money and cannot
///   alter history, so the emergency response to a leaked anchoring key is {freezeAnchorer}, which
///   PAUSER_ROLE can call without the admin key and which costs the anchoring path nothing.
/// - Count and totals digest live in the event only; `corrects` is in a separate event emitted only
///   by {anchorCorrection}, so an ordinary batch does not pay for it.
contract SettlementAnchor is ISettlementAnchor, AccessControlDefaultAdminRules {
    /// @inheritdoc ISettlementAnchor
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");
    /// @inheritdoc ISettlementAnchor
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    mapping(uint64 batchId => bytes32 root) private _roots;

    /// @param initialAdminDelay Delay (seconds) of a default-admin transfer (2-step, OZ rules).
    /// @param initialAdmin The first default admin.
    constructor(
        uint48 initialAdminDelay,
        address initialAdmin
    ) AccessControlDefaultAdminRules(initialAdminDelay, initialAdmin) {}

    /// @inheritdoc ISettlementAnchor
    function anchorBatch(
        uint64 batchId,
        bytes32 root,
        uint32 count,
        bytes32 totalsDigest
    ) external onlyRole(ANCHOR_ROLE) {
        _anchor(batchId, root, count, totalsDigest);
    }

    /// @inheritdoc ISettlementAnchor
    function anchorCorrection(
        uint64 batchId,
        bytes32 root,
        uint32 count,
        bytes32 totalsDigest,
        uint64 corrects
    ) external onlyRole(ANCHOR_ROLE) {
        // A correction must point backwards to a batch that exists, so the correction graph is acyclic
        // and every correction is tied to anchored history.
        if (corrects == 0 || corrects >= batchId || _roots[corrects] == 0) {
            revert InvalidCorrectionTarget(batchId, corrects);
        }
        _anchor(batchId, root, count, totalsDigest);
        emit BatchCorrected(batchId, corrects);
    }

    /// @inheritdoc ISettlementAnchor
    function freezeAnchorer(address account) external onlyRole(PAUSER_ROLE) {
        _revokeRole(ANCHOR_ROLE, account);
        emit AnchorerFrozen(account, _msgSender());
    }

    /// @inheritdoc ISettlementAnchor
    function rootOf(uint64 batchId) external view returns (bytes32) {
        return _roots[batchId];
    }

    /// @inheritdoc ISettlementAnchor
    function verifySettlement(uint64 batchId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool) {
        bytes32 root = _roots[batchId];
        if (root == 0) revert BatchNotAnchored(batchId);
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    function _anchor(uint64 batchId, bytes32 root, uint32 count, bytes32 totalsDigest) private {
        if (batchId == 0) revert InvalidBatchId(batchId);
        if (root == 0) revert EmptyRoot(batchId);
        if (count == 0) revert EmptyBatch(batchId);
        bytes32 existing = _roots[batchId];
        if (existing != 0) revert BatchAlreadyAnchored(batchId, existing);
        _roots[batchId] = root;
        emit BatchAnchored(batchId, root, count, totalsDigest);
    }
}
