// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// solhint-disable func-name-mixedcase, private-vars-leading-underscore

import {SettlementAnchor} from "../../contracts/SettlementAnchor.sol";
import {VaultFixture} from "./utils/VaultFixture.sol";
import {Test} from "./utils/Test.sol";

// Deterministic gas scenarios recorded with `snapshotGasLastCall` into `snapshots/*.json`
// (`--snapshot` writes them, `--snapshot-check` fails on any drift). The figures are the execution gas
// of one call, without the 21,000 base cost and calldata, so they track code changes; end-to-end
// per-transaction figures come from the TypeScript gas benchmark. Each scenario measured in its own
// test, after a setUp, so that storage touched by the setup is cold again, as in a real transaction.

contract AnchorGasTest is Test {
    SettlementAnchor internal anchor;
    address internal anchorer = makeAddr("anchorer");

    function setUp() public {
        address admin = makeAddr("admin");
        anchor = new SettlementAnchor(1 days, admin);
        bytes32 role = anchor.ANCHOR_ROLE();
        vm.prank(admin);
        anchor.grantRole(role, anchorer);
        vm.prank(anchorer);
        anchor.anchorBatch(1, keccak256("root-1"), 5000, keccak256("totals-1"));
    }

    function test_gas_anchorBatch() public {
        vm.prank(anchorer);
        anchor.anchorBatch(2, keccak256("root-2"), 5000, keccak256("totals-2"));
        vm.snapshotGasLastCall("SettlementAnchor", "anchorBatch");
    }

    function test_gas_anchorCorrection() public {
        vm.prank(anchorer);
        anchor.anchorCorrection(2, keccak256("root-2"), 5000, keccak256("totals-2"), 1);
        vm.snapshotGasLastCall("SettlementAnchor", "anchorCorrection");
    }
}

contract VaultNewRecipientsGasTest is VaultFixture {
    function test_gas_payout100NewRecipients() public {
        uint256[] memory p = _payouts(100, 1_234_567);
        vm.prank(payer);
        vault.payout(1, 1, p);
        vm.snapshotGasLastCall("SettlementVault", "payout100NewRecipients");
    }

    function test_gas_payout10AllDeferred() public {
        uint256[] memory p = _payouts(10, 1_234_567);
        for (uint256 i; i < 10; ++i) usdc.blocklist(_seller(i));
        vm.prank(payer);
        vault.payout(1, 1, p);
        vm.snapshotGasLastCall("SettlementVault", "payout10AllDeferred");
    }
}

contract VaultExistingRecipientsGasTest is VaultFixture {
    uint256[] internal batch;

    function setUp() public override {
        super.setUp();
        batch = _payouts(100, 1_234_567);
        vm.prank(payer);
        vault.payout(1, 1, batch);
        usdc.blocklist(_seller(0));
        uint256[] memory one = _payouts(1, 5);
        vm.prank(payer);
        vault.payout(2, 101, one);
    }

    function test_gas_payout100ExistingRecipients() public {
        uint256[] memory p = _payouts(100, 1_234_567);
        p[0] = _pack(_seller(100), 1_234_567);
        vm.prank(payer);
        vault.payout(3, 102, p);
        vm.snapshotGasLastCall("SettlementVault", "payout100ExistingRecipients");
    }

    function test_gas_payoutWithSignature100ExistingRecipients() public {
        uint256[] memory p = _payouts(100, 1_234_567);
        p[0] = _pack(_seller(100), 1_234_567);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(3, 102, p, deadline, SIGNER_KEY);
        vault.payoutWithSignature(3, 102, p, deadline, sig);
        vm.snapshotGasLastCall("SettlementVault", "payoutWithSignature100ExistingRecipients");
    }

    function test_gas_claim() public {
        vm.prank(_seller(0));
        vault.claim(treasury);
        vm.snapshotGasLastCall("SettlementVault", "claim");
    }
}
