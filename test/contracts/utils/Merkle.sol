// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// solhint-disable func-name-mixedcase, private-vars-leading-underscore

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @notice Builds Merkle trees and proofs in tests the way OZ MerkleProof verifies them (sorted-pair
/// hashing; an odd node is promoted), with StandardMerkleTree-style double-hashed leaves.
library Merkle {
    /// @dev The leaf of one settlement, like StandardMerkleTree over
    /// ["bytes32","address","uint256","bytes32"] (settlement id, seller, minor units, currency).
    function leaf(
        bytes32 settlementId,
        address seller,
        uint256 amount,
        bytes32 currency
    ) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(settlementId, seller, amount, currency))));
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = leaves;
        while (level.length > 1) level = _up(level);
        return level[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory) {
        bytes32[] memory path = new bytes32[](64);
        uint256 n;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) path[n++] = level[sibling];
            level = _up(level);
            index >>= 1;
        }
        bytes32[] memory out = new bytes32[](n);
        for (uint256 i; i < n; ++i) out[i] = path[i];
        return out;
    }

    function _up(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 i; i < next.length; ++i) {
            uint256 left = 2 * i;
            next[i] = left + 1 < level.length ? Hashes.commutativeKeccak256(level[left], level[left + 1]) : level[left];
        }
    }
}
