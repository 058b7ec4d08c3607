// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// solhint-disable func-name-mixedcase, private-vars-leading-underscore

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SettlementAnchor} from "../../contracts/SettlementAnchor.sol";
import {ISettlementAnchor} from "../../contracts/interfaces/ISettlementAnchor.sol";
import {Test} from "./utils/Test.sol";
import {Merkle} from "./utils/Merkle.sol";

contract SettlementAnchorTest is Test {
    SettlementAnchor internal anchor;
    address internal admin = makeAddr("admin");
    address internal anchorer = makeAddr("anchorer");
    address internal pauser = makeAddr("pauser");
    address internal stranger = makeAddr("stranger");

    bytes32 internal constant ROOT_1 = keccak256("root-1");
    bytes32 internal constant ROOT_2 = keccak256("root-2");
    bytes32 internal constant TOTALS = keccak256("totals");

    function setUp() public {
        anchor = new SettlementAnchor(1 days, admin);
        vm.startPrank(admin);
        anchor.grantRole(anchor.ANCHOR_ROLE(), anchorer);
        anchor.grantRole(anchor.PAUSER_ROLE(), pauser);
        vm.stopPrank();
    }

    // ------------------------------------------------------------ anchorBatch

    function test_anchorBatch_storesRootAndEmits() public {
        vm.expectEmit(address(anchor));
        emit ISettlementAnchor.BatchAnchored(1, ROOT_1, 5000, TOTALS);
        vm.prank(anchorer);
        anchor.anchorBatch(1, ROOT_1, 5000, TOTALS);
        assertEq(anchor.rootOf(1), ROOT_1, "root stored");
        assertEq(anchor.rootOf(2), bytes32(0), "next id empty");
    }

    function test_anchorBatch_revertsIfNotAnchorer() public {
        bytes32 role = anchor.ANCHOR_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        anchor.anchorBatch(1, ROOT_1, 1, TOTALS);
    }

    function test_anchorBatch_revertsIfBatchIdZero() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementAnchor.InvalidBatchId.selector, uint64(0)));
        vm.prank(anchorer);
        anchor.anchorBatch(0, ROOT_1, 1, TOTALS);
    }

    function test_anchorBatch_revertsIfEmptyRoot() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementAnchor.EmptyRoot.selector, uint64(3)));
        vm.prank(anchorer);
        anchor.anchorBatch(3, bytes32(0), 1, TOTALS);
    }

    function test_anchorBatch_revertsIfEmptyBatch() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementAnchor.EmptyBatch.selector, uint64(3)));
        vm.prank(anchorer);
        anchor.anchorBatch(3, ROOT_1, 0, TOTALS);
    }

    function test_anchorBatch_revertsIfOverwrite() public {
        vm.startPrank(anchorer);
        anchor.anchorBatch(1, ROOT_1, 1, TOTALS);
        vm.expectRevert(abi.encodeWithSelector(ISettlementAnchor.BatchAlreadyAnchored.selector, uint64(1), ROOT_1));
        anchor.anchorBatch(1, ROOT_2, 1, TOTALS);
        vm.stopPrank();
        assertEq(anchor.rootOf(1), ROOT_1, "root unchanged");
    }

    function test_anchorBatch_revertsIfSameRootResubmitted() public {
        vm.startPrank(anchorer);
        anchor.anchorBatch(1, ROOT_1, 1, TOTALS);
        vm.expectRevert(abi.encodeWithSelector(ISettlementAnchor.BatchAlreadyAnchored.selector, uint64(1), ROOT_1));
        anchor.anchorBatch(1, ROOT_1, 1, TOTALS);
        vm.stopPrank();
    }

    /// @dev A gap is not prevented on chain (gas budget, see the contract's NatSpec) but is visible.
    function test_anchorBatch_gapIsDetectable() public {
        vm.startPrank(anchorer);
        anchor.anchorBatch(1, ROOT_1, 1, TOTALS);
        anchor.anchorBatch(3, ROOT_2, 1, TOTALS);
        vm.stopPrank();
        assertEq(anchor.rootOf(2), bytes32(0), "the missing batch reads as zero");
    }

    // ------------------------------------------------------------ anchorCorrection

    function test_anchorCorrection_emitsBothEvents() public {
        vm.startPrank(anchorer);
        anchor.anchorBatch(1, ROOT_1, 10, TOTALS);
        vm.expectEmit(address(anchor));
        emit ISettlementAnchor.BatchAnchored(2, ROOT_2, 3, TOTALS);
        vm.expectEmit(address(anchor));
        emit ISettlementAnchor.BatchCorrected(2, 1);
        anchor.anchorCorrection(2, ROOT_2, 3, TOTALS, 1);
        vm.stopPrank();
        assertEq(anchor.rootOf(1), ROOT_1, "corrected batch unchanged");
        assertEq(anchor.rootOf(2), ROOT_2, "correction stored");
    }

    function test_anchorCorrection_revertsIfTargetZero() public {
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementAnchor.InvalidCorrectionTarget.selector, uint64(2), uint64(0))
        );
        vm.prank(anchorer);
        anchor.anchorCorrection(2, ROOT_2, 1, TOTALS, 0);
    }

    function test_anchorCorrection_revertsIfTargetNotEarlier() public {
        vm.startPrank(anchorer);
        anchor.anchorBatch(1, ROOT_1, 1, TOTALS);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementAnchor.InvalidCorrectionTarget.selector, uint64(1), uint64(1))
        );
        anchor.anchorCorrection(1, ROOT_2, 1, TOTALS, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementAnchor.InvalidCorrectionTarget.selector, uint64(2), uint64(5))
        );
        anchor.anchorCorrection(2, ROOT_2, 1, TOTALS, 5);
        vm.stopPrank();
    }

    function test_anchorCorrection_revertsIfTargetNotAnchored() public {
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementAnchor.InvalidCorrectionTarget.selector, uint64(3), uint64(2))
        );
        vm.prank(anchorer);
        anchor.anchorCorrection(3, ROOT_2, 1, TOTALS, 2);
    }

    function test_anchorCorrection_revertsIfNotAnchorer() public {
        bytes32 role = anchor.ANCHOR_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        anchor.anchorCorrection(2, ROOT_2, 1, TOTALS, 1);
    }

    function test_anchorCorrection_revertsIfOverwrite() public {
        vm.startPrank(anchorer);
        anchor.anchorBatch(1, ROOT_1, 1, TOTALS);
        anchor.anchorBatch(2, ROOT_2, 1, TOTALS);
        vm.expectRevert(abi.encodeWithSelector(ISettlementAnchor.BatchAlreadyAnchored.selector, uint64(2), ROOT_2));
        anchor.anchorCorrection(2, ROOT_1, 1, TOTALS, 1);
        vm.stopPrank();
    }

    // ------------------------------------------------------------ freezeAnchorer

    function test_freezeAnchorer_revokesRoleWithoutAdmin() public {
        vm.expectEmit(address(anchor));
        emit ISettlementAnchor.AnchorerFrozen(anchorer, pauser);
        vm.prank(pauser);
        anchor.freezeAnchorer(anchorer);
        assertFalse(anchor.hasRole(anchor.ANCHOR_ROLE(), anchorer), "role revoked");

        bytes32 role = anchor.ANCHOR_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, anchorer, role)
        );
        vm.prank(anchorer);
        anchor.anchorBatch(1, ROOT_1, 1, TOTALS);
    }

    function test_freezeAnchorer_revertsIfNotPauser() public {
        bytes32 role = anchor.PAUSER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        anchor.freezeAnchorer(anchorer);
    }

    // ------------------------------------------------------------ verifySettlement

    function test_verifySettlement_acceptsEveryLeafAndRejectsOthers() public {
        bytes32[] memory leaves = _leaves(7, 1);
        bytes32 root = Merkle.root(leaves);
        vm.prank(anchorer);
        anchor.anchorBatch(1, root, 7, TOTALS);
        for (uint256 i; i < leaves.length; ++i) {
            assertTrue(anchor.verifySettlement(1, leaves[i], Merkle.proof(leaves, i)), "leaf included");
        }
        bytes32 outsider = Merkle.leaf(keccak256("other"), stranger, 1, "EUR");
        assertFalse(anchor.verifySettlement(1, outsider, Merkle.proof(leaves, 0)), "outsider rejected");
    }

    function test_verifySettlement_rejectsSingleHashedLeaf() public {
        bytes32[] memory leaves = _leaves(4, 1);
        vm.prank(anchorer);
        anchor.anchorBatch(1, Merkle.root(leaves), 4, TOTALS);
        // Leaves are double-hashed (StandardMerkleTree); the single hash of the same settlement is not a
        // leaf of the tree, so a caller who builds leaves the wrong way gets false, not a false positive.
        address seller0 = address(uint160(uint256(keccak256(abi.encode(uint256(0), uint256(1))))));
        bytes32 singleHashed = keccak256(
            abi.encode(keccak256(abi.encode(uint256(1), uint256(0))), seller0, uint256(1), bytes32("USD"))
        );
        assertEq(keccak256(bytes.concat(singleHashed)), leaves[0], "same settlement, hashed once less");
        assertFalse(anchor.verifySettlement(1, singleHashed, Merkle.proof(leaves, 0)), "single hash rejected");
    }

    function test_verifySettlement_revertsIfBatchNotAnchored() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementAnchor.BatchNotAnchored.selector, uint64(9)));
        anchor.verifySettlement(9, ROOT_1, new bytes32[](0));
    }

    function test_supportsInterface_accessControl() public view {
        assertTrue(anchor.supportsInterface(type(IAccessControl).interfaceId), "IAccessControl");
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_verifySettlement_anyTreeSize(uint256 size, uint256 seed) public {
        size = bound(size, 1, 40);
        bytes32[] memory leaves = _leaves(size, seed);
        vm.prank(anchorer);
        anchor.anchorBatch(1, Merkle.root(leaves), uint32(size), TOTALS);
        uint256 i = seed % size;
        assertTrue(anchor.verifySettlement(1, leaves[i], Merkle.proof(leaves, i)), "leaf included");
        bytes32 tampered = Merkle.leaf(bytes32(seed), stranger, size + 1, "XXX");
        assertFalse(anchor.verifySettlement(1, tampered, Merkle.proof(leaves, i)), "tampered rejected");
    }

    function testFuzz_anchorBatch_writeOnce(uint64 batchId, bytes32 root, bytes32 other, uint32 count) public {
        vm.assume(batchId != 0 && root != 0 && other != 0 && count != 0);
        vm.startPrank(anchorer);
        anchor.anchorBatch(batchId, root, count, TOTALS);
        vm.expectRevert(abi.encodeWithSelector(ISettlementAnchor.BatchAlreadyAnchored.selector, batchId, root));
        anchor.anchorBatch(batchId, other, count, TOTALS);
        vm.stopPrank();
        assertEq(anchor.rootOf(batchId), root, "root unchanged");
    }

    function _leaves(uint256 n, uint256 seed) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            leaves[i] = Merkle.leaf(
                keccak256(abi.encode(seed, i)),
                address(uint160(uint256(keccak256(abi.encode(i, seed))))),
                i + 1,
                "USD"
            );
        }
    }
}
