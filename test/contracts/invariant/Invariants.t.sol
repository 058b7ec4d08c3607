// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// solhint-disable func-name-mixedcase, private-vars-leading-underscore

import {SettlementAnchor} from "../../../contracts/SettlementAnchor.sol";
import {SettlementVault} from "../../../contracts/SettlementVault.sol";
import {MockStablecoin} from "../../../contracts/mocks/MockStablecoin.sol";
import {Test} from "../utils/Test.sol";

// Handlers live in this file: Hardhat passes the fuzzer only the artifacts of the test files it
// runs, so a handler in another file would leave the invariant campaign with nothing to call.

/// @notice Drives the vault through random sequences of funding, payouts (some sellers blocklisted,
/// the token sometimes paused), claims, cancellations and sweeps, keeping ghost books to compare with.
contract VaultHandler is Test {
    SettlementVault public vault;
    MockStablecoin public usdc;
    address public admin;
    address public payer;
    address public treasury;

    uint256 public constant SELLERS = 8;
    uint64 public constant ID_SPACE = 600;

    /// @notice How many times each payout id was successfully processed (must never exceed 1).
    mapping(uint64 id => uint256 times) public processedCount;
    uint256 public doubleProcessed;
    uint256 public ghostFunded;
    uint256 public ghostPushed;
    uint256 public ghostClaimed;
    uint256 public ghostSwept;
    uint256 public calls;

    constructor(SettlementVault vault_, MockStablecoin usdc_, address admin_, address payer_, address treasury_) {
        vault = vault_;
        usdc = usdc_;
        admin = admin_;
        payer = payer_;
        treasury = treasury_;
    }

    function seller(uint256 i) public pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("inv-seller", i % SELLERS)))));
    }

    function fund(uint256 amount) external {
        amount = bound(amount, 1, 1_000_000e6);
        usdc.mint(treasury, amount);
        vm.prank(treasury);
        vault.fund(amount);
        ghostFunded += amount;
        ++calls;
    }

    function payout(uint64 first, uint256 n, uint256 seed) external {
        n = bound(n, 1, 12);
        first = uint64(bound(first, 0, ID_SPACE));
        uint256[] memory p = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 amount = bound(uint256(keccak256(abi.encode(seed, i))), 1, 50_000e6);
            p[i] = (uint256(uint160(seller(seed + i))) << 96) | amount;
        }
        uint256 before = usdc.balanceOf(address(vault));
        vm.prank(payer);
        try vault.payout(1, first, p) {
            for (uint256 i; i < n; ++i) {
                uint64 id = uint64(first + i);
                if (++processedCount[id] > 1) ++doubleProcessed;
            }
            ghostPushed += before - usdc.balanceOf(address(vault));
        } catch {}
        ++calls;
    }

    function cancel(uint64 first, uint256 n) external {
        n = bound(n, 1, 20);
        first = uint64(bound(first, 0, ID_SPACE));
        vm.prank(payer);
        try vault.cancelPayouts(first, n) {
            for (uint256 i; i < n; ++i) {
                uint64 id = uint64(first + i);
                if (++processedCount[id] > 1) ++doubleProcessed;
            }
        } catch {}
        ++calls;
    }

    function claim(uint256 sellerIndex, uint256 toIndex) external {
        address s = seller(sellerIndex);
        address to = seller(toIndex);
        uint256 owed = vault.claimableOf(s);
        vm.prank(s);
        try vault.claim(to) returns (uint256 amount) {
            assertEq(amount, owed, "claimed what was owed");
            ghostClaimed += amount;
        } catch {}
        ++calls;
    }

    function sweep(uint256 amount) external {
        uint256 available = vault.excess();
        if (available == 0) return;
        amount = bound(amount, 1, available);
        vm.prank(admin);
        vault.sweepExcess(treasury, amount);
        ghostSwept += amount;
        ++calls;
    }

    function toggleBlocklist(uint256 sellerIndex) external {
        address s = seller(sellerIndex);
        if (usdc.isBlocklisted(s)) usdc.unblocklist(s);
        else usdc.blocklist(s);
        ++calls;
    }

    function toggleTokenPause() external {
        if (usdc.paused()) usdc.unpause();
        else usdc.pause();
        ++calls;
    }
}

/// @notice Anchors and re-anchors random batch ids and remembers the first root each id received.
contract AnchorHandler is Test {
    SettlementAnchor public anchor;
    address public anchorer;

    uint64[] public anchoredIds;
    mapping(uint64 batchId => bytes32 root) public firstRoot;

    constructor(SettlementAnchor anchor_, address anchorer_) {
        anchor = anchor_;
        anchorer = anchorer_;
    }

    function anchoredCount() external view returns (uint256) {
        return anchoredIds.length;
    }

    /// @notice Whether an anchored id's root now differs from the first root it received, and the
    /// first such id. It runs after every call of the campaign, so the loop reads this handler's
    /// own storage and makes one call per id (to the anchor): with three external calls per id the
    /// check was most of the campaign's time.
    function firstChangedRoot() external view returns (bool changed, uint64 batchId) {
        uint256 n = anchoredIds.length;
        for (uint256 i; i < n; ++i) {
            uint64 id = anchoredIds[i];
            if (anchor.rootOf(id) != firstRoot[id]) return (true, id);
        }
        return (false, 0);
    }

    function anchorBatch(uint64 batchId, bytes32 root, uint32 count) external {
        batchId = uint64(bound(batchId, 0, 64));
        vm.prank(anchorer);
        try anchor.anchorBatch(batchId, root, count, keccak256(abi.encode(root))) {
            assertEq(firstRoot[batchId], bytes32(0), "an id was anchored twice");
            firstRoot[batchId] = root;
            anchoredIds.push(batchId);
        } catch {}
    }

    function anchorCorrection(uint64 batchId, bytes32 root, uint64 corrects) external {
        batchId = uint64(bound(batchId, 0, 64));
        corrects = uint64(bound(corrects, 0, 64));
        vm.prank(anchorer);
        try anchor.anchorCorrection(batchId, root, 1, root, corrects) {
            assertEq(firstRoot[batchId], bytes32(0), "an id was anchored twice");
            firstRoot[batchId] = root;
            anchoredIds.push(batchId);
        } catch {}
    }
}

/// @notice Vault invariants: solvency, books equal the sum of claimables, value conservation, and no
/// payout id processed twice. The fuzzer calls only the handler (see targetContracts).
contract SettlementVaultInvariantTest is Test {
    SettlementVault internal vault;
    MockStablecoin internal usdc;
    VaultHandler internal handler;

    function setUp() public {
        address admin = makeAddr("admin");
        address payer = makeAddr("payer");
        address treasury = makeAddr("treasury");
        usdc = new MockStablecoin(address(this));
        vault = new SettlementVault(usdc, 1 days, admin);
        handler = new VaultHandler(vault, usdc, admin, payer, treasury);
        usdc.transferOwnership(address(handler));
        bytes32 role = vault.PAYER_ROLE();
        vm.prank(admin);
        vault.grantRole(role, payer);
        vm.prank(treasury);
        usdc.approve(address(vault), type(uint256).max);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_balanceCoversWhatIsOwed() public view {
        assertGe(usdc.balanceOf(address(vault)), vault.totalClaimable(), "vault insolvent");
    }

    function invariant_totalClaimableIsSumOfClaimables() public view {
        uint256 sum;
        for (uint256 i; i < handler.SELLERS(); ++i) sum += vault.claimableOf(handler.seller(i));
        assertEq(vault.totalClaimable(), sum, "books differ from the sum of claimables");
    }

    function invariant_valueIsConserved() public view {
        uint256 out = handler.ghostPushed() + handler.ghostClaimed() + handler.ghostSwept();
        assertEq(usdc.balanceOf(address(vault)), handler.ghostFunded() - out, "value leaked or appeared");
    }

    function invariant_noPayoutIdProcessedTwice() public view {
        assertEq(handler.doubleProcessed(), 0, "a payout id was processed twice");
    }
}

/// @notice Anchor invariant: a committed root never changes.
contract SettlementAnchorInvariantTest is Test {
    SettlementAnchor internal anchor;
    AnchorHandler internal handler;

    function setUp() public {
        address admin = makeAddr("admin");
        address anchorer = makeAddr("anchorer");
        anchor = new SettlementAnchor(1 days, admin);
        handler = new AnchorHandler(anchor, anchorer);
        bytes32 role = anchor.ANCHOR_ROLE();
        vm.prank(admin);
        anchor.grantRole(role, anchorer);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_committedRootsNeverChange() public view {
        (bool changed, ) = handler.firstChangedRoot();
        assertFalse(changed, "a committed root changed (handler.firstChangedRoot names the batch)");
    }
}
