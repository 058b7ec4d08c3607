// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title MockStablecoin (TEST/LOCAL ONLY)
/// @notice A USDC-like token for tests and local chains: 6 decimals, EIP-2612 permit, an issuer
/// blocklist and a global pause, so every payout failure mode can be reproduced.
/// @dev Like USDC v2.2, the blocklist flag is the top bit of the balance slot, so checking a
/// recipient costs no extra cold SLOAD and gas figures stay representative of the real token.
/// Balances are therefore limited to 255 bits.
contract MockStablecoin is IERC20, IERC20Metadata, IERC20Permit, IERC20Errors, EIP712, Nonces, Ownable {
    /// @notice Thrown when a blocklisted account sends, receives, spends or approves.
    /// @param account The blocklisted account.
    error AccountBlocklisted(address account);
    /// @notice Thrown on any transfer, approval or mint while the token is paused.
    error TokenPaused();
    /// @notice Thrown when a permit is used after its deadline.
    /// @param deadline The permit deadline.
    error ERC2612ExpiredSignature(uint256 deadline);
    /// @notice Thrown when a permit is not signed by the owner.
    /// @param signer The recovered signer.
    /// @param owner The owner named in the permit.
    error ERC2612InvalidSigner(address signer, address owner);

    /// @notice Emitted when an account is blocklisted.
    /// @param account The account.
    event Blocklisted(address indexed account);
    /// @notice Emitted when an account is removed from the blocklist.
    /// @param account The account.
    event Unblocklisted(address indexed account);
    /// @notice Emitted when the token is paused.
    event Paused();
    /// @notice Emitted when the token is unpaused.
    event Unpaused();

    bytes32 private constant _PERMIT_TYPEHASH = keccak256(
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    );
    uint256 private constant _BLOCKLIST_FLAG = 1 << 255;
    uint256 private constant _BALANCE_MASK = _BLOCKLIST_FLAG - 1;

    mapping(address account => uint256 flagAndBalance) private _balanceAndFlag;
    mapping(address account => mapping(address spender => uint256)) private _allowances;
    uint256 private _totalSupply;
    bool private _paused;

    constructor(address initialOwner) EIP712("Mock USD Coin", "2") Ownable(initialOwner) {}

    modifier whenNotPaused() {
        if (_paused) revert TokenPaused();
        _;
    }

    /// @notice Mints tokens (owner only; a test/local faucet).
    /// @param to The recipient.
    /// @param amount The amount in minor units (6 decimals).
    function mint(address to, uint256 amount) external onlyOwner whenNotPaused {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 toSlot = _balanceAndFlag[to];
        if (toSlot & _BLOCKLIST_FLAG != 0) revert AccountBlocklisted(to);
        uint256 newSupply = _totalSupply + amount;
        // Keeping the supply below 2**255 keeps every balance below it, so a balance can never spill
        // into the blocklist flag bit (the proof behind the unchecked addition in _transfer).
        if (newSupply > _BALANCE_MASK) revert ERC20InvalidReceiver(to);
        _totalSupply = newSupply;
        // Cannot overflow: balance + amount <= newSupply <= _BALANCE_MASK, and the flag bit is clear.
        unchecked {
            _balanceAndFlag[to] = toSlot + amount;
        }
        emit Transfer(address(0), to, amount);
    }

    /// @notice Adds an account to the blocklist (owner only).
    /// @param account The account.
    function blocklist(address account) external onlyOwner {
        _balanceAndFlag[account] |= _BLOCKLIST_FLAG;
        emit Blocklisted(account);
    }

    /// @notice Removes an account from the blocklist (owner only).
    /// @param account The account.
    function unblocklist(address account) external onlyOwner {
        _balanceAndFlag[account] &= _BALANCE_MASK;
        emit Unblocklisted(account);
    }

    /// @notice Pauses all transfers, approvals and mints (owner only).
    function pause() external onlyOwner {
        _paused = true;
        emit Paused();
    }

    /// @notice Unpauses (owner only).
    function unpause() external onlyOwner {
        _paused = false;
        emit Unpaused();
    }

    /// @notice Whether an account is blocklisted.
    /// @param account The account.
    function isBlocklisted(address account) external view returns (bool) {
        return _balanceAndFlag[account] & _BLOCKLIST_FLAG != 0;
    }

    /// @notice Whether the token is paused.
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IERC20Metadata
    function name() external pure returns (string memory) {
        return "Mock USD Coin";
    }

    /// @inheritdoc IERC20Metadata
    function symbol() external pure returns (string memory) {
        return "mUSDC";
    }

    /// @inheritdoc IERC20Metadata
    function decimals() external pure returns (uint8) {
        return 6;
    }

    /// @inheritdoc IERC20
    function totalSupply() external view returns (uint256) {
        return _totalSupply;
    }

    /// @inheritdoc IERC20
    function balanceOf(address account) external view returns (uint256) {
        return _balanceAndFlag[account] & _BALANCE_MASK;
    }

    /// @inheritdoc IERC20
    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    /// @inheritdoc IERC20
    function transfer(address to, uint256 value) external whenNotPaused returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @inheritdoc IERC20
    function transferFrom(address from, address to, uint256 value) external whenNotPaused returns (bool) {
        if (_balanceAndFlag[msg.sender] & _BLOCKLIST_FLAG != 0) revert AccountBlocklisted(msg.sender);
        uint256 allowed = _allowances[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert ERC20InsufficientAllowance(msg.sender, allowed, value);
            // Cannot underflow: allowed >= value was checked just above.
            unchecked {
                _allowances[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    /// @inheritdoc IERC20
    function approve(address spender, uint256 value) external whenNotPaused returns (bool) {
        _approve(msg.sender, spender, value);
        return true;
    }

    /// @inheritdoc IERC20Permit
    function permit(
        address owner,
        address spender,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external whenNotPaused {
        if (block.timestamp > deadline) revert ERC2612ExpiredSignature(deadline);
        bytes32 structHash = keccak256(abi.encode(_PERMIT_TYPEHASH, owner, spender, value, _useNonce(owner), deadline));
        address signer = ECDSA.recover(_hashTypedDataV4(structHash), v, r, s);
        if (signer != owner) revert ERC2612InvalidSigner(signer, owner);
        _approve(owner, spender, value);
    }

    /// @inheritdoc IERC20Permit
    function nonces(address owner) public view override(IERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @inheritdoc IERC20Permit
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _approve(address owner, address spender, uint256 value) private {
        if (spender == address(0)) revert ERC20InvalidSpender(address(0));
        if (_balanceAndFlag[owner] & _BLOCKLIST_FLAG != 0) revert AccountBlocklisted(owner);
        if (_balanceAndFlag[spender] & _BLOCKLIST_FLAG != 0) revert AccountBlocklisted(spender);
        _allowances[owner][spender] = value;
        emit Approval(owner, spender, value);
    }

    function _transfer(address from, address to, uint256 value) private {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 fromSlot = _balanceAndFlag[from];
        if (fromSlot & _BLOCKLIST_FLAG != 0) revert AccountBlocklisted(from);
        if (fromSlot < value) revert ERC20InsufficientBalance(from, fromSlot, value);
        // Cannot underflow: the flag bit is clear, so fromSlot is the balance, and fromSlot >= value.
        unchecked {
            _balanceAndFlag[from] = fromSlot - value;
        }
        uint256 toSlot = _balanceAndFlag[to];
        if (toSlot & _BLOCKLIST_FLAG != 0) revert AccountBlocklisted(to);
        // Cannot overflow into the flag bit: the recipient's balance plus value is at most the total
        // supply, which mint keeps below 2**255.
        unchecked {
            _balanceAndFlag[to] = toSlot + value;
        }
        emit Transfer(from, to, value);
    }
}
