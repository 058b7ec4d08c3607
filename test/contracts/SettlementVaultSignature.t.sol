// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// solhint-disable func-name-mixedcase, private-vars-leading-underscore

import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {SettlementVault} from "../../contracts/SettlementVault.sol";
import {ISettlementVault} from "../../contracts/interfaces/ISettlementVault.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";

contract SettlementVaultSignatureTest is VaultFixture {
    uint256 internal deadline;

    function setUp() public override {
        super.setUp();
        vm.warp(1_800_000_000);
        deadline = block.timestamp + 1 hours;
    }

    function test_hashPayoutBatch_matchesEip712() public view {
        uint256[] memory p = _payouts(3, 1e6);
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Entrepot SettlementVault"),
                keccak256("1"),
                block.chainid,
                address(vault)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("PayoutBatch(uint64 batchId,uint64 firstPayoutId,uint256[] payouts,uint256 deadline)"),
                uint64(5),
                uint64(50),
                keccak256(abi.encodePacked(p)),
                deadline
            )
        );
        bytes32 expected = keccak256(abi.encodePacked("\x19\x01", domain, structHash));
        assertEq(vault.hashPayoutBatch(5, 50, p, deadline), expected, "EIP-712 digest");
    }

    function test_payoutWithSignature_anyoneRelays() public {
        uint256[] memory p = _payouts(4, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, SIGNER_KEY);
        vm.expectEmit(address(vault));
        emit ISettlementVault.PayoutBatchExecuted(5, 50, 4, _sum(p), 0, keccak256(abi.encodePacked(p)), signer);
        vm.prank(stranger);
        vault.payoutWithSignature(5, 50, p, deadline, sig);
        assertEq(usdc.balanceOf(_seller(3)), 2e6 + 3, "paid");
    }

    function test_payoutWithSignature_revertsOnReplay() public {
        uint256[] memory p = _payouts(4, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, SIGNER_KEY);
        vault.payoutWithSignature(5, 50, p, deadline, sig);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.PayoutAlreadyProcessed.selector, uint64(50)));
        vault.payoutWithSignature(5, 50, p, deadline, sig);
    }

    function test_payoutWithSignature_revertsIfExpired() public {
        uint256[] memory p = _payouts(1, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, SIGNER_KEY);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.AuthorizationExpired.selector, deadline, deadline + 1));
        vault.payoutWithSignature(5, 50, p, deadline, sig);
    }

    function test_payoutWithSignature_validAtDeadline() public {
        uint256[] memory p = _payouts(1, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, SIGNER_KEY);
        vm.warp(deadline);
        vault.payoutWithSignature(5, 50, p, deadline, sig);
        assertTrue(vault.isPayoutProcessed(50), "processed");
    }

    function test_payoutWithSignature_revertsOnOtherChain() public {
        uint256[] memory p = _payouts(2, 2e6);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SIGNER_KEY, vault.hashPayoutBatch(5, 50, p, deadline));
        vm.chainId(block.chainid + 1);
        address recovered = ecrecover(vault.hashPayoutBatch(5, 50, p, deadline), v, r, s);
        assertTrue(recovered != signer, "domain binds the chain");
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.UnauthorizedSigner.selector, recovered));
        vault.payoutWithSignature(5, 50, p, deadline, abi.encodePacked(r, s, v));
    }

    function test_payoutWithSignature_revertsOnOtherVault() public {
        SettlementVault other = new SettlementVault(usdc, 1 days, admin);
        bytes32 role = other.SIGNER_ROLE();
        vm.prank(admin);
        other.grantRole(role, signer);
        uint256[] memory p = _payouts(2, 2e6);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SIGNER_KEY, vault.hashPayoutBatch(5, 50, p, deadline));
        address recovered = ecrecover(other.hashPayoutBatch(5, 50, p, deadline), v, r, s);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.UnauthorizedSigner.selector, recovered));
        other.payoutWithSignature(5, 50, p, deadline, abi.encodePacked(r, s, v));
    }

    function test_payoutWithSignature_revertsIfPayoutsTampered() public {
        uint256[] memory p = _payouts(3, 2e6);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(SIGNER_KEY, vault.hashPayoutBatch(5, 50, p, deadline));
        p[1] = _pack(stranger, 900_000e6);
        address recovered = ecrecover(vault.hashPayoutBatch(5, 50, p, deadline), v, r, s);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.UnauthorizedSigner.selector, recovered));
        vault.payoutWithSignature(5, 50, p, deadline, abi.encodePacked(r, s, v));
    }

    function test_payoutWithSignature_revertsIfSignerLacksRole() public {
        uint256[] memory p = _payouts(1, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, 0xBAD);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.UnauthorizedSigner.selector, vm.addr(0xBAD)));
        vault.payoutWithSignature(5, 50, p, deadline, sig);
    }

    function test_payoutWithSignature_revertsIfSignerRevoked() public {
        uint256[] memory p = _payouts(1, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, SIGNER_KEY);
        bytes32 role = vault.SIGNER_ROLE();
        vm.prank(admin);
        vault.revokeRole(role, signer);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.UnauthorizedSigner.selector, signer));
        vault.payoutWithSignature(5, 50, p, deadline, sig);
    }

    function test_payoutWithSignature_revertsIfMalformed() public {
        uint256[] memory p = _payouts(1, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, SIGNER_KEY);
        bytes memory short = new bytes(64);
        for (uint256 i; i < 64; ++i) short[i] = sig[i];
        vm.expectRevert(ISettlementVault.InvalidSignature.selector);
        vault.payoutWithSignature(5, 50, p, deadline, short);
        // A malleated (high-s) twin of a valid signature is rejected too.
        bytes32 r;
        bytes32 s;
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
        }
        uint8 v = uint8(sig[64]);
        bytes32 highS = bytes32(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 - uint256(s));
        vm.expectRevert(ISettlementVault.InvalidSignature.selector);
        vault.payoutWithSignature(5, 50, p, deadline, abi.encodePacked(r, highS, v == 27 ? uint8(28) : uint8(27)));
    }

    function test_payoutWithSignature_revertsIfPaused() public {
        uint256[] memory p = _payouts(1, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, SIGNER_KEY);
        vm.prank(pauser);
        vault.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vault.payoutWithSignature(5, 50, p, deadline, sig);
    }

    function test_payoutWithSignature_revertsIfIdsCancelled() public {
        uint256[] memory p = _payouts(2, 2e6);
        bytes memory sig = _sign(5, 50, p, deadline, SIGNER_KEY);
        vm.prank(signer);
        vault.cancelPayouts(51, 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.PayoutAlreadyProcessed.selector, uint64(51)));
        vault.payoutWithSignature(5, 50, p, deadline, sig);
    }

    function testFuzz_payoutWithSignature_batchSizes(uint256 n, uint64 first, uint256 amount) public {
        n = bound(n, 1, 80);
        first = uint64(bound(first, 0, type(uint64).max - n + 1));
        amount = bound(amount, 1, 10_000e6);
        uint256[] memory p = _payouts(n, amount);
        bytes memory sig = _sign(9, first, p, deadline, SIGNER_KEY);
        vault.payoutWithSignature(9, first, p, deadline, sig);
        assertEq(usdc.balanceOf(address(vault)), FUNDING - _sum(p), "paid exactly the batch");
        assertTrue(vault.isPayoutProcessed(uint64(first + n - 1)), "last id processed");
    }
}
