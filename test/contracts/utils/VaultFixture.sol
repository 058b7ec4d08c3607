// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// solhint-disable func-name-mixedcase, private-vars-leading-underscore

import {SettlementVault} from "../../../contracts/SettlementVault.sol";
import {MockStablecoin} from "../../../contracts/mocks/MockStablecoin.sol";
import {Test} from "./Test.sol";

/// @notice Shared setup of the vault tests: a USDC-like token, a vault, its roles and a funded treasury.
abstract contract VaultFixture is Test {
    MockStablecoin internal usdc;
    SettlementVault internal vault;

    address internal admin = makeAddr("admin");
    address internal payer = makeAddr("payer");
    address internal pauser = makeAddr("pauser");
    address internal treasury = makeAddr("treasury");
    address internal stranger = makeAddr("stranger");
    uint256 internal constant SIGNER_KEY = 0xA11CE;
    address internal signer;

    uint256 internal constant FUNDING = 1_000_000e6;

    function setUp() public virtual {
        signer = vm.addr(SIGNER_KEY);
        usdc = new MockStablecoin(address(this));
        vault = new SettlementVault(usdc, 1 days, admin);
        vm.startPrank(admin);
        vault.grantRole(vault.PAYER_ROLE(), payer);
        vault.grantRole(vault.SIGNER_ROLE(), signer);
        vault.grantRole(vault.PAUSER_ROLE(), pauser);
        vm.stopPrank();
        usdc.mint(treasury, 10 * FUNDING);
        vm.startPrank(treasury);
        usdc.approve(address(vault), type(uint256).max);
        vault.fund(FUNDING);
        vm.stopPrank();
    }

    function _pack(address seller, uint256 amount) internal pure returns (uint256) {
        return (uint256(uint160(seller)) << 96) | amount;
    }

    function _seller(uint256 i) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("seller", i)))));
    }

    function _payouts(uint256 n, uint256 amount) internal pure returns (uint256[] memory p) {
        p = new uint256[](n);
        for (uint256 i; i < n; ++i) p[i] = _pack(_seller(i), amount + i);
    }

    function _sum(uint256[] memory p) internal pure returns (uint256 s) {
        for (uint256 i; i < p.length; ++i) s += p[i] & ((1 << 96) - 1);
    }

    function _sign(
        uint64 batchId,
        uint64 first,
        uint256[] memory p,
        uint256 deadline,
        uint256 key
    ) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, vault.hashPayoutBatch(batchId, first, p, deadline));
        return abi.encodePacked(r, s, v);
    }
}
