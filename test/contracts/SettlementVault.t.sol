// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// solhint-disable func-name-mixedcase, private-vars-leading-underscore

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {SettlementVault} from "../../contracts/SettlementVault.sol";
import {ISettlementVault} from "../../contracts/interfaces/ISettlementVault.sol";
import {MockStablecoin} from "../../contracts/mocks/MockStablecoin.sol";
import {MockFeeOnTransferToken} from "../../contracts/mocks/MockFeeOnTransferToken.sol";
import {MockHookToken, MockRecipient} from "../../contracts/mocks/MockHookToken.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";

contract SettlementVaultTest is VaultFixture {
    // ------------------------------------------------------------ construction

    function test_constructor_revertsIfTokenHasNoCode() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InvalidToken.selector, stranger));
        new SettlementVault(IERC20(stranger), 1 days, admin);
    }

    function test_constructor_setsTokenAndAdmin() public view {
        assertEq(address(vault.token()), address(usdc), "token");
        assertEq(vault.defaultAdmin(), admin, "admin");
        assertEq(
            vault.PAYOUT_BATCH_TYPEHASH(),
            keccak256("PayoutBatch(uint64 batchId,uint64 firstPayoutId,uint256[] payouts,uint256 deadline)"),
            "typehash"
        );
    }

    // ------------------------------------------------------------ funding

    function test_fund_pullsAndEmits() public {
        vm.expectEmit(address(vault));
        emit ISettlementVault.Funded(treasury, 5e6);
        vm.prank(treasury);
        vault.fund(5e6);
        assertEq(usdc.balanceOf(address(vault)), FUNDING + 5e6, "balance");
        assertEq(vault.excess(), FUNDING + 5e6, "all excess while nothing is owed");
    }

    function test_fund_revertsIfZero() public {
        vm.expectRevert(ISettlementVault.ZeroAmount.selector);
        vm.prank(treasury);
        vault.fund(0);
    }

    function test_fund_revertsIfNoAllowance() public {
        usdc.mint(stranger, 10e6);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(vault), 0, 10e6)
        );
        vm.prank(stranger);
        vault.fund(10e6);
    }

    function test_fund_revertsIfFeeOnTransfer() public {
        MockFeeOnTransferToken fee = new MockFeeOnTransferToken();
        SettlementVault feeVault = new SettlementVault(fee, 1 days, admin);
        fee.mint(treasury, 1000e6);
        vm.startPrank(treasury);
        fee.approve(address(feeVault), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.FeeOnTransferNotSupported.selector, 100e6, 99e6));
        feeVault.fund(100e6);
        vm.stopPrank();
    }

    function test_fundWithPermit_setsAllowanceAndPulls() public {
        uint256 ownerKey = 0xB0B;
        address owner = vm.addr(ownerKey);
        usdc.mint(owner, 50e6);
        (uint8 v, bytes32 r, bytes32 s) = _permit(ownerKey, owner, 50e6, block.timestamp + 1 hours);
        vm.expectEmit(address(vault));
        emit ISettlementVault.Funded(owner, 50e6);
        vm.prank(owner);
        vault.fundWithPermit(50e6, block.timestamp + 1 hours, v, r, s);
        assertEq(usdc.balanceOf(owner), 0, "owner drained");
        assertEq(usdc.allowance(owner, address(vault)), 0, "allowance used");
    }

    function test_fundWithPermit_toleratesFrontRunPermit() public {
        uint256 ownerKey = 0xB0B;
        address owner = vm.addr(ownerKey);
        usdc.mint(owner, 50e6);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(ownerKey, owner, 50e6, deadline);
        // Someone replays the permit first: the nonce is consumed, the allowance is set.
        usdc.permit(owner, address(vault), 50e6, deadline, v, r, s);
        vm.prank(owner);
        vault.fundWithPermit(50e6, deadline, v, r, s);
        assertEq(usdc.balanceOf(address(vault)), FUNDING + 50e6, "funded anyway");
    }

    function test_fundWithPermit_revertsIfPermitInvalidAndNoAllowance() public {
        usdc.mint(stranger, 50e6);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(vault), 0, 50e6)
        );
        vm.prank(stranger);
        vault.fundWithPermit(50e6, block.timestamp, 27, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    // ------------------------------------------------------------ payout: happy path

    function test_payout_paysEverySellerAndEmits() public {
        uint256[] memory p = _payouts(5, 100e6);
        uint256 total = _sum(p);
        vm.expectEmit(address(vault));
        emit ISettlementVault.PayoutBatchExecuted(7, 10, 5, total, 0, keccak256(abi.encodePacked(p)), payer);
        vm.prank(payer);
        vault.payout(7, 10, p);
        for (uint256 i; i < 5; ++i) {
            assertEq(usdc.balanceOf(_seller(i)), 100e6 + i, "seller paid");
            assertTrue(vault.isPayoutProcessed(uint64(10 + i)), "id processed");
        }
        assertFalse(vault.isPayoutProcessed(9), "id before range untouched");
        assertFalse(vault.isPayoutProcessed(15), "id after range untouched");
        assertEq(vault.processedBitmap(0), uint256(0x1f) << 10, "bitmap word");
        assertEq(usdc.balanceOf(address(vault)), FUNDING - total, "vault debited");
        assertEq(vault.totalClaimable(), 0, "nothing owed");
    }

    function test_payout_rangeAcrossBitmapWords() public {
        uint256[] memory p = _payouts(300, 1e6);
        vm.prank(payer);
        vault.payout(1, 250, p);
        assertEq(vault.processedBitmap(0), type(uint256).max << 250, "word 0 tail");
        assertEq(vault.processedBitmap(1), type(uint256).max, "word 1 full");
        assertEq(vault.processedBitmap(2), (uint256(1) << 38) - 1, "word 2 head");
    }

    // ------------------------------------------------------------ payout: reverts

    function test_payout_revertsIfNotPayer() public {
        bytes32 role = vault.PAYER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        vault.payout(1, 0, _payouts(1, 1e6));
    }

    function test_payout_revertsIfPaused() public {
        vm.prank(pauser);
        vault.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(payer);
        vault.payout(1, 0, _payouts(1, 1e6));
    }

    function test_payout_revertsIfEmpty() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.EmptyPayoutBatch.selector, uint64(4)));
        vm.prank(payer);
        vault.payout(4, 0, new uint256[](0));
    }

    function test_payout_revertsIfZeroAmount() public {
        uint256[] memory p = _payouts(3, 1e6);
        p[1] = _pack(_seller(1), 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InvalidPayout.selector, uint64(21), _seller(1), 0));
        vm.prank(payer);
        vault.payout(1, 20, p);
    }

    function test_payout_revertsIfZeroSeller() public {
        uint256[] memory p = _payouts(3, 1e6);
        p[2] = _pack(address(0), 5);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InvalidPayout.selector, uint64(22), address(0), 5));
        vm.prank(payer);
        vault.payout(1, 20, p);
    }

    function test_payout_revertsIfSellerIsVault() public {
        uint256[] memory p = _payouts(1, 1e6);
        p[0] = _pack(address(vault), 5);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InvalidPayout.selector, uint64(0), address(vault), 5));
        vm.prank(payer);
        vault.payout(1, 0, p);
    }

    function test_payout_revertsIfAlreadyProcessed() public {
        vm.startPrank(payer);
        vault.payout(1, 100, _payouts(10, 1e6));
        // Overlapping range 105..114: the first already-processed id is 105.
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.PayoutAlreadyProcessed.selector, uint64(105)));
        vault.payout(2, 105, _payouts(10, 1e6));
        // Range 95..100 overlaps only on its last id.
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.PayoutAlreadyProcessed.selector, uint64(100)));
        vault.payout(2, 95, _payouts(6, 1e6));
        vm.stopPrank();
        assertEq(usdc.balanceOf(_seller(0)), 1e6, "paid once only");
    }

    function test_payout_revertsIfIdOverflow() public {
        uint64 first = type(uint64).max - 1;
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.PayoutIdOverflow.selector, first, 3));
        vm.prank(payer);
        vault.payout(1, first, _payouts(3, 1e6));
    }

    function test_payout_lastIdFits() public {
        uint64 first = type(uint64).max - 1;
        vm.prank(payer);
        vault.payout(1, first, _payouts(2, 1e6));
        assertTrue(vault.isPayoutProcessed(type(uint64).max), "last id processed");
    }

    function test_payout_revertsIfVaultUnderfunded() public {
        uint256[] memory p = new uint256[](2);
        p[0] = _pack(_seller(0), FUNDING);
        p[1] = _pack(_seller(1), 1);
        // The second transfer fails for lack of balance, is deferred, and the books would then owe 1
        // with an empty vault: the whole batch reverts.
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InsufficientVaultBalance.selector, 0, 1));
        vm.prank(payer);
        vault.payout(1, 0, p);
    }

    function test_payout_cannotSpendWhatIsOwed() public {
        usdc.blocklist(_seller(0));
        uint256[] memory p = new uint256[](1);
        p[0] = _pack(_seller(0), 600_000e6);
        vm.prank(payer);
        vault.payout(1, 0, p); // deferred: 600k owed, 1M held
        p[0] = _pack(_seller(1), 500_000e6);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementVault.InsufficientVaultBalance.selector, 500_000e6, 600_000e6)
        );
        vm.prank(payer);
        vault.payout(2, 1, p);
    }

    function test_payout_revertsIfTooLittleGasForTransfer() public {
        uint256[] memory p = _payouts(2, 1e6);
        vm.prank(payer);
        try vault.payout{gas: 120_000}(1, 0, p) {
            revert AssertionFailed("must revert");
        } catch (bytes memory reason) {
            assertEq(bytes4(reason), ISettlementVault.InsufficientGasForPayout.selector, "selector");
        }
        assertFalse(vault.isPayoutProcessed(0), "nothing processed");
    }

    // ------------------------------------------------------------ payout: pull fallback

    function test_payout_defersBlocklistedSeller() public {
        uint256[] memory p = _payouts(3, 10e6);
        usdc.blocklist(_seller(1));
        vm.expectEmit(address(vault));
        emit ISettlementVault.PayoutDeferred(9, 1, _seller(1), 10e6 + 1);
        vm.expectEmit(address(vault));
        emit ISettlementVault.PayoutBatchExecuted(9, 0, 3, 20e6 + 2, 10e6 + 1, keccak256(abi.encodePacked(p)), payer);
        vm.prank(payer);
        vault.payout(9, 0, p);
        assertEq(usdc.balanceOf(_seller(0)), 10e6, "seller 0 paid");
        assertEq(usdc.balanceOf(_seller(2)), 10e6 + 2, "seller 2 paid");
        assertEq(vault.claimableOf(_seller(1)), 10e6 + 1, "seller 1 owed");
        assertEq(vault.totalClaimable(), 10e6 + 1, "total owed");
        assertEq(vault.excess(), FUNDING - 30e6 - 3, "excess excludes owed");
    }

    function test_payout_defersEverythingWhileTokenPaused() public {
        uint256[] memory p = _payouts(4, 1e6);
        usdc.pause();
        vm.prank(payer);
        vault.payout(1, 0, p);
        assertEq(vault.totalClaimable(), _sum(p), "all deferred");
        usdc.unpause();
        vm.prank(_seller(3));
        assertEq(vault.claim(_seller(3)), 1e6 + 3, "claimed after unpause");
    }

    function test_payout_defersRejectingContract() public {
        (SettlementVault hv, MockHookToken ht) = _hookVault();
        MockRecipient r = new MockRecipient();
        r.setMode(MockRecipient.Mode.Reject);
        uint256[] memory p = new uint256[](2);
        p[0] = _pack(address(r), 7e6);
        p[1] = _pack(_seller(1), 3e6);
        vm.prank(payer);
        hv.payout(1, 0, p);
        assertEq(hv.claimableOf(address(r)), 7e6, "rejecting contract owed");
        assertEq(ht.balanceOf(_seller(1)), 3e6, "others still paid");
    }

    function test_payout_defersGasBurningRecipientWithinCap() public {
        (SettlementVault hv, ) = _hookVault();
        MockRecipient r = new MockRecipient();
        r.setMode(MockRecipient.Mode.BurnGas);
        uint256[] memory p = new uint256[](1);
        p[0] = _pack(address(r), 7e6);
        vm.prank(payer);
        hv.payout{gas: 1_000_000}(1, 0, p);
        assertEq(hv.claimableOf(address(r)), 7e6, "deferred after burning at most the cap");
    }

    function test_payout_reentrantRecipientIsDeferred() public {
        (SettlementVault hv, ) = _hookVault();
        MockRecipient r = new MockRecipient();
        r.setMode(MockRecipient.Mode.Reenter);
        r.setReenter(address(hv), abi.encodeCall(ISettlementVault.claim, (address(r))));
        uint256[] memory p = new uint256[](1);
        p[0] = _pack(address(r), 7e6);
        vm.prank(payer);
        hv.payout(1, 0, p);
        assertEq(hv.claimableOf(address(r)), 7e6, "re-entry blocked, payout deferred");
        // Once accepting again, the contract claims its own funds.
        r.setMode(MockRecipient.Mode.Accept);
        r.execute(address(hv), abi.encodeCall(ISettlementVault.claim, (address(r))));
        assertEq(hv.claimableOf(address(r)), 0, "claimed");
        // A failing forwarded call bubbles its exact error.
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.NothingToClaim.selector, address(r)));
        r.execute(address(hv), abi.encodeCall(ISettlementVault.claim, (address(r))));
    }

    // ------------------------------------------------------------ claim

    function test_claim_toAnotherAddress() public {
        usdc.blocklist(_seller(0));
        vm.prank(payer);
        vault.payout(1, 0, _payouts(1, 5e6));
        address fresh = makeAddr("fresh");
        vm.expectEmit(address(vault));
        emit ISettlementVault.Claimed(_seller(0), fresh, 5e6);
        vm.prank(_seller(0));
        assertEq(vault.claim(fresh), 5e6, "amount");
        assertEq(usdc.balanceOf(fresh), 5e6, "received");
        assertEq(vault.totalClaimable(), 0, "books cleared");
        assertEq(vault.claimableOf(_seller(0)), 0, "seller cleared");
    }

    function test_claim_revertsIfNothing() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.NothingToClaim.selector, stranger));
        vm.prank(stranger);
        vault.claim(stranger);
    }

    function test_claim_revertsIfInvalidRecipient() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InvalidRecipient.selector, address(0)));
        vm.prank(stranger);
        vault.claim(address(0));
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InvalidRecipient.selector, address(vault)));
        vm.prank(stranger);
        vault.claim(address(vault));
    }

    function test_claim_revertsIfPaused() public {
        vm.prank(pauser);
        vault.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(stranger);
        vault.claim(stranger);
    }

    function test_claim_revertsAndKeepsDebtIfTransferFails() public {
        usdc.blocklist(_seller(0));
        vm.prank(payer);
        vault.payout(1, 0, _payouts(1, 5e6));
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.AccountBlocklisted.selector, _seller(0)));
        vm.prank(_seller(0));
        vault.claim(_seller(0));
        assertEq(vault.claimableOf(_seller(0)), 5e6, "still owed");
    }

    // ------------------------------------------------------------ cancelPayouts

    function test_cancelPayouts_bySignerVoidsIds() public {
        vm.expectEmit(address(vault));
        emit ISettlementVault.PayoutsCancelled(40, 5, signer);
        vm.prank(signer);
        vault.cancelPayouts(40, 5);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.PayoutAlreadyProcessed.selector, uint64(40)));
        vm.prank(payer);
        vault.payout(1, 38, _payouts(3, 1e6));
    }

    function test_cancelPayouts_byPayer() public {
        vm.prank(payer);
        vault.cancelPayouts(0, 1);
        assertTrue(vault.isPayoutProcessed(0), "voided");
    }

    function test_cancelPayouts_revertsIfUnauthorized() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.UnauthorizedCanceller.selector, stranger));
        vm.prank(stranger);
        vault.cancelPayouts(0, 1);
    }

    function test_cancelPayouts_revertsIfZeroCount() public {
        vm.expectRevert(ISettlementVault.ZeroAmount.selector);
        vm.prank(payer);
        vault.cancelPayouts(0, 0);
    }

    function test_cancelPayouts_revertsIfAlreadyProcessed() public {
        vm.startPrank(payer);
        vault.payout(1, 0, _payouts(2, 1e6));
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.PayoutAlreadyProcessed.selector, uint64(1)));
        vault.cancelPayouts(1, 3);
        vm.stopPrank();
    }

    function test_cancelPayouts_revertsIfIdOverflow() public {
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementVault.PayoutIdOverflow.selector, uint64(5), type(uint256).max)
        );
        vm.prank(payer);
        vault.cancelPayouts(5, type(uint256).max);
    }

    // ------------------------------------------------------------ sweep and rescue

    function test_sweepExcess_takesOnlyExcess() public {
        usdc.blocklist(_seller(0));
        vm.prank(payer);
        vault.payout(1, 0, _payouts(1, 400_000e6));
        uint256 available = FUNDING - 400_000e6;
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.ExcessExceeded.selector, available + 1, available));
        vm.prank(admin);
        vault.sweepExcess(treasury, available + 1);

        vm.expectEmit(address(vault));
        emit ISettlementVault.ExcessSwept(treasury, available);
        vm.prank(admin);
        vault.sweepExcess(treasury, available);
        assertEq(usdc.balanceOf(address(vault)), vault.totalClaimable(), "exactly what is owed remains");
        assertEq(vault.excess(), 0, "no excess");
    }

    function test_sweepExcess_revertsIfNotAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, payer, bytes32(0))
        );
        vm.prank(payer);
        vault.sweepExcess(payer, 1);
    }

    function test_sweepExcess_revertsIfZeroOrBadRecipient() public {
        vm.startPrank(admin);
        vm.expectRevert(ISettlementVault.ZeroAmount.selector);
        vault.sweepExcess(treasury, 0);
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InvalidRecipient.selector, address(0)));
        vault.sweepExcess(address(0), 1);
        vm.stopPrank();
    }

    function test_excess_saturatesIfTokenTookFunds() public {
        usdc.blocklist(_seller(0));
        vm.prank(payer);
        vault.payout(1, 0, _payouts(1, 1000e6));
        // Simulate an issuer action that leaves the vault holding less than it owes (something the
        // vault itself can never cause): overwrite its balance slot in the token (mapping at slot 4).
        vm.store(address(usdc), keccak256(abi.encode(address(vault), uint256(4))), bytes32(uint256(10)));
        assertEq(usdc.balanceOf(address(vault)), 10, "balance slot overwritten");
        assertEq(vault.excess(), 0, "zero, not a revert");
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.ExcessExceeded.selector, 1, 0));
        vm.prank(admin);
        vault.sweepExcess(treasury, 1);
    }

    function test_rescueToken_sendsOtherToken() public {
        MockFeeOnTransferToken other = new MockFeeOnTransferToken();
        other.mint(address(vault), 100);
        vm.expectEmit(address(vault));
        emit ISettlementVault.TokenRescued(address(other), treasury, 100);
        vm.prank(admin);
        vault.rescueToken(other, treasury, 100);
        assertEq(other.balanceOf(treasury), 99, "rescued (minus that token's own fee)");
    }

    function test_rescueToken_revertsForSettlementToken() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.CannotRescueSettlementToken.selector, address(usdc)));
        vm.prank(admin);
        vault.rescueToken(usdc, treasury, 1);
    }

    function test_rescueToken_revertsIfBadRecipient() public {
        MockFeeOnTransferToken other = new MockFeeOnTransferToken();
        vm.expectRevert(abi.encodeWithSelector(ISettlementVault.InvalidRecipient.selector, address(vault)));
        vm.prank(admin);
        vault.rescueToken(other, address(vault), 1);
    }

    // ------------------------------------------------------------ pause

    function test_pause_byPauserUnpauseOnlyByAdmin() public {
        vm.prank(pauser);
        vault.pause();
        assertTrue(vault.paused(), "paused");
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, pauser, bytes32(0))
        );
        vm.prank(pauser);
        vault.unpause();
        vm.prank(admin);
        vault.unpause();
        assertFalse(vault.paused(), "unpaused");
    }

    function test_pause_revertsIfNotPauser() public {
        bytes32 role = vault.PAUSER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, role)
        );
        vm.prank(stranger);
        vault.pause();
    }

    function test_pause_fundingAndCancellingStillWork() public {
        vm.prank(pauser);
        vault.pause();
        vm.prank(treasury);
        vault.fund(1e6);
        vm.prank(signer);
        vault.cancelPayouts(0, 10);
        assertTrue(vault.isPayoutProcessed(9), "cancelled during pause");
    }

    // ------------------------------------------------------------ fuzz

    function testFuzz_payout_conservesValue(uint256 n, uint256 seed, uint256 blockedMask) public {
        n = bound(n, 1, 60);
        uint256[] memory p = new uint256[](n);
        uint256 total;
        uint256 deferred;
        for (uint256 i; i < n; ++i) {
            uint256 amount = bound(uint256(keccak256(abi.encode(seed, i))), 1, 10_000e6);
            p[i] = _pack(_seller(i), amount);
            total += amount;
            if ((blockedMask >> i) & 1 == 1) {
                usdc.blocklist(_seller(i));
                deferred += amount;
            }
        }
        uint64 first = uint64(bound(seed, 0, type(uint64).max - n + 1));
        vm.prank(payer);
        vault.payout(1, first, p);
        assertEq(vault.totalClaimable(), deferred, "deferred owed");
        assertEq(usdc.balanceOf(address(vault)), FUNDING - (total - deferred), "only pushes left the vault");
        assertGe(usdc.balanceOf(address(vault)), vault.totalClaimable(), "solvent");
        for (uint256 i; i < n; ++i) assertTrue(vault.isPayoutProcessed(uint64(first + i)), "processed");
    }

    function testFuzz_markProcessed_overlapReportsFirstClash(uint64 a, uint256 na, uint64 b, uint256 nb) public {
        na = bound(na, 1, 600);
        nb = bound(nb, 1, 600);
        a = uint64(bound(a, 0, 5_000));
        b = uint64(bound(b, 0, 5_000));
        vm.startPrank(payer);
        vault.cancelPayouts(a, na);
        uint256 lo = b > a ? b : a;
        uint256 hi = (b + nb < a + na) ? b + nb : a + na;
        if (lo < hi) {
            vm.expectRevert(abi.encodeWithSelector(ISettlementVault.PayoutAlreadyProcessed.selector, uint64(lo)));
            vault.cancelPayouts(b, nb);
        } else {
            vault.cancelPayouts(b, nb);
            assertTrue(vault.isPayoutProcessed(b), "disjoint range processed");
        }
        vm.stopPrank();
    }

    function testFuzz_sweepExcess_neverTouchesOwed(uint256 owed, uint256 request) public {
        owed = bound(owed, 1, FUNDING);
        usdc.blocklist(_seller(0));
        uint256[] memory p = new uint256[](1);
        p[0] = _pack(_seller(0), owed);
        vm.prank(payer);
        vault.payout(1, 0, p);
        request = bound(request, 1, 2 * FUNDING);
        uint256 available = FUNDING - owed;
        vm.prank(admin);
        if (request > available) {
            vm.expectRevert(abi.encodeWithSelector(ISettlementVault.ExcessExceeded.selector, request, available));
        }
        vault.sweepExcess(treasury, request);
        assertGe(usdc.balanceOf(address(vault)), vault.totalClaimable(), "solvent");
    }

    // ------------------------------------------------------------ helpers

    function _hookVault() internal returns (SettlementVault hv, MockHookToken ht) {
        ht = new MockHookToken();
        hv = new SettlementVault(ht, 1 days, admin);
        bytes32 role = hv.PAYER_ROLE();
        vm.prank(admin);
        hv.grantRole(role, payer);
        ht.mint(address(hv), 1000e6);
    }

    function _permit(
        uint256 key,
        address owner,
        uint256 value,
        uint256 deadline
    ) internal view returns (uint8, bytes32, bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                address(vault),
                value,
                usdc.nonces(owner),
                deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(key, digest);
    }
}
