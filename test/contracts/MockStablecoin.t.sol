// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// solhint-disable func-name-mixedcase, private-vars-leading-underscore

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MockStablecoin} from "../../contracts/mocks/MockStablecoin.sol";
import {Test} from "./utils/Test.sol";

/// @notice The test token must behave like USDC where the vault relies on it: these tests keep the
/// failure modes the vault tests use honest.
contract MockStablecoinTest is Test {
    MockStablecoin internal usdc;
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");

    function setUp() public {
        usdc = new MockStablecoin(address(this));
        usdc.mint(alice, 100e6);
    }

    function test_metadata() public view {
        assertEq(usdc.decimals(), 6, "decimals");
        assertEq(keccak256(bytes(usdc.name())), keccak256("Mock USD Coin"), "name");
        assertEq(keccak256(bytes(usdc.symbol())), keccak256("mUSDC"), "symbol");
        assertEq(usdc.totalSupply(), 100e6, "supply");
    }

    function test_transfer_movesBalanceAndEmits() public {
        vm.expectEmit(address(usdc));
        emit IERC20.Transfer(alice, bob, 40e6);
        vm.prank(alice);
        assertTrue(usdc.transfer(bob, 40e6), "returns true");
        assertEq(usdc.balanceOf(alice), 60e6, "alice");
        assertEq(usdc.balanceOf(bob), 40e6, "bob");
    }

    function test_transfer_revertsIfInsufficient() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, 100e6, 101e6));
        vm.prank(alice);
        usdc.transfer(bob, 101e6);
    }

    function test_transfer_revertsToZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(alice);
        usdc.transfer(address(0), 1);
    }

    function test_blocklist_blocksSenderAndRecipientButKeepsBalance() public {
        usdc.blocklist(bob);
        assertTrue(usdc.isBlocklisted(bob), "flagged");
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.AccountBlocklisted.selector, bob));
        vm.prank(alice);
        usdc.transfer(bob, 1);
        usdc.unblocklist(bob);
        vm.prank(alice);
        usdc.transfer(bob, 5);
        usdc.blocklist(bob);
        assertEq(usdc.balanceOf(bob), 5, "balance readable while flagged");
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.AccountBlocklisted.selector, bob));
        vm.prank(bob);
        usdc.transfer(alice, 1);
    }

    function test_blocklist_blocksMintApproveAndSpender() public {
        usdc.blocklist(bob);
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.AccountBlocklisted.selector, bob));
        usdc.mint(bob, 1);
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.AccountBlocklisted.selector, bob));
        vm.prank(alice);
        usdc.approve(bob, 1);
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.AccountBlocklisted.selector, bob));
        vm.prank(bob);
        usdc.approve(alice, 1);
        usdc.unblocklist(bob);
        vm.prank(alice);
        usdc.approve(bob, 10);
        usdc.blocklist(bob);
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.AccountBlocklisted.selector, bob));
        vm.prank(bob);
        usdc.transferFrom(alice, bob, 1);
    }

    function test_pause_blocksEverything() public {
        usdc.pause();
        assertTrue(usdc.paused(), "paused");
        vm.expectRevert(MockStablecoin.TokenPaused.selector);
        vm.prank(alice);
        usdc.transfer(bob, 1);
        vm.expectRevert(MockStablecoin.TokenPaused.selector);
        usdc.mint(bob, 1);
        usdc.unpause();
        vm.prank(alice);
        usdc.transfer(bob, 1);
        assertFalse(usdc.paused(), "unpaused");
    }

    function test_adminFunctions_revertIfNotOwner() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        usdc.mint(alice, 1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        usdc.blocklist(bob);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        usdc.pause();
        vm.stopPrank();
    }

    function test_transferFrom_spendsAllowanceUnlessInfinite() public {
        vm.prank(alice);
        usdc.approve(bob, 30e6);
        vm.prank(bob);
        usdc.transferFrom(alice, bob, 10e6);
        assertEq(usdc.allowance(alice, bob), 20e6, "allowance spent");
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, bob, 20e6, 21e6));
        vm.prank(bob);
        usdc.transferFrom(alice, bob, 21e6);
        vm.prank(alice);
        usdc.approve(bob, type(uint256).max);
        vm.prank(bob);
        usdc.transferFrom(alice, bob, 1e6);
        assertEq(usdc.allowance(alice, bob), type(uint256).max, "infinite allowance kept");
    }

    function test_approve_revertsForZeroSpender() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidSpender.selector, address(0)));
        vm.prank(alice);
        usdc.approve(address(0), 1);
    }

    function test_permit_setsAllowanceOnceOnly() public {
        uint256 key = 0xC0FFEE;
        address owner = vm.addr(key);
        uint256 deadline = block.timestamp + 100;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _permitDigest(owner, bob, 7, 0, deadline));
        usdc.permit(owner, bob, 7, deadline, v, r, s);
        assertEq(usdc.allowance(owner, bob), 7, "allowance");
        assertEq(usdc.nonces(owner), 1, "nonce used");
        address recovered = ecrecover(_permitDigest(owner, bob, 7, 1, deadline), v, r, s);
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.ERC2612InvalidSigner.selector, recovered, owner));
        usdc.permit(owner, bob, 7, deadline, v, r, s);
    }

    function test_permit_revertsIfExpired() public {
        vm.warp(1000);
        vm.expectRevert(abi.encodeWithSelector(MockStablecoin.ERC2612ExpiredSignature.selector, 999));
        usdc.permit(alice, bob, 1, 999, 27, bytes32(0), bytes32(0));
    }

    function test_mint_revertsPastSupplyCap() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, bob));
        usdc.mint(bob, 1 << 255);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        usdc.mint(address(0), 1);
    }

    function testFuzz_transfer_conservesSupply(uint256 amount, uint256 back) public {
        amount = bound(amount, 0, 100e6);
        back = bound(back, 0, amount);
        vm.prank(alice);
        usdc.transfer(bob, amount);
        vm.prank(bob);
        usdc.transfer(alice, back);
        assertEq(usdc.balanceOf(alice) + usdc.balanceOf(bob), usdc.totalSupply(), "supply conserved");
        assertEq(usdc.balanceOf(bob), amount - back, "bob");
    }

    function _permitDigest(
        address owner,
        address spender,
        uint256 value,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                spender,
                value,
                nonce,
                deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash));
    }
}
