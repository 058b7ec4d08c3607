// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ISettlementVault} from "./interfaces/ISettlementVault.sol";

/// @title SettlementVault
/// @notice Stablecoin vault paying sellers in batches with a pull fallback; see {ISettlementVault}.
/// @dev Gas design (targets at 100 payouts per batch: <= 27,000 per new recipient, <= 10,500 per
/// existing one; a signed batch <= 7,000 over an unsigned one):
/// - one uint256 of calldata per payout (seller in the high 160 bits, amount in the low 96);
/// - payout ids are a contiguous range and are marked in a bitmap of 256 ids per slot, one read and
///   one write per touched word for the whole batch; the same bitmap is the replay protection of
///   signed batches, so they need no nonce slot;
/// - the vault's books are touched once per batch (`_totalClaimable` only when something was
///   deferred); a per-seller slot is written only for a deferred payout.
contract SettlementVault is
    ISettlementVault,
    AccessControlDefaultAdminRules,
    Pausable,
    ReentrancyGuardTransient,
    EIP712
{
    using SafeERC20 for IERC20;

    /// @inheritdoc ISettlementVault
    bytes32 public constant PAYER_ROLE = keccak256("PAYER_ROLE");
    /// @inheritdoc ISettlementVault
    bytes32 public constant SIGNER_ROLE = keccak256("SIGNER_ROLE");
    /// @inheritdoc ISettlementVault
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @inheritdoc ISettlementVault
    bytes32 public constant PAYOUT_BATCH_TYPEHASH = keccak256(
        "PayoutBatch(uint64 batchId,uint64 firstPayoutId,uint256[] payouts,uint256 deadline)"
    );

    /// @notice Gas forwarded to each push transfer. Capping it bounds what a hostile recipient
    /// (through a token hook) can burn, and lets the vault require that the full cap is available
    /// before each call, so a caller can never starve a transfer into failing and turn a push into
    /// a claimable. A USDC transfer needs well under a third of it.
    uint256 public constant PAYOUT_TRANSFER_GAS = 150_000;
    /// @dev gasleft() must exceed this before a push transfer: the cap, plus the 1/64 that EIP-150
    /// withholds from a call, plus headroom for the CALL itself.
    uint256 private constant _MIN_GAS_BEFORE_TRANSFER = PAYOUT_TRANSFER_GAS + PAYOUT_TRANSFER_GAS / 63 + 5_000;
    uint256 private constant _AMOUNT_MASK = (1 << 96) - 1;

    IERC20 private immutable _token;

    mapping(address seller => uint256 amount) private _claimable;
    uint256 private _totalClaimable;
    mapping(uint256 wordPos => uint256 bits) private _processed;

    /// @param token_ The settlement stablecoin (a plain ERC-20: no fee on transfer, no rebasing).
    /// @param initialAdminDelay Delay (seconds) of a default-admin transfer (2-step, OZ rules).
    /// @param initialAdmin The first default admin.
    constructor(
        IERC20 token_,
        uint48 initialAdminDelay,
        address initialAdmin
    ) AccessControlDefaultAdminRules(initialAdminDelay, initialAdmin) EIP712("Entrepot SettlementVault", "1") {
        if (address(token_).code.length == 0) revert InvalidToken(address(token_));
        _token = token_;
    }

    // ---------------------------------------------------------------- funding

    /// @inheritdoc ISettlementVault
    function fund(uint256 amount) external nonReentrant {
        _pull(_msgSender(), amount);
    }

    /// @inheritdoc ISettlementVault
    function fundWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external nonReentrant {
        address from = _msgSender();
        // A permit can be front-run (its signature is public in the mempool); ignoring its failure is
        // safe because the pull below still needs a sufficient allowance and reverts otherwise.
        try IERC20Permit(address(_token)).permit(from, address(this), amount, deadline, v, r, s) {} catch {}
        _pull(from, amount);
    }

    // ---------------------------------------------------------------- payouts

    /// @inheritdoc ISettlementVault
    function payout(
        uint64 batchId,
        uint64 firstPayoutId,
        uint256[] calldata payouts
    ) external onlyRole(PAYER_ROLE) whenNotPaused nonReentrant {
        _execute(batchId, firstPayoutId, payouts, _hashPayouts(payouts), _msgSender());
    }

    /// @inheritdoc ISettlementVault
    function payoutWithSignature(
        uint64 batchId,
        uint64 firstPayoutId,
        uint256[] calldata payouts,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused nonReentrant {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline, block.timestamp);
        bytes32 payoutsHash = _hashPayouts(payouts);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(PAYOUT_BATCH_TYPEHASH, batchId, firstPayoutId, payoutsHash, deadline))
        );
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        if (!hasRole(SIGNER_ROLE, signer)) revert UnauthorizedSigner(signer);
        // Replay protection is the processed bitmap: the signature binds the id range, and _execute
        // refuses any id already processed (chain and contract are bound by the EIP-712 domain).
        _execute(batchId, firstPayoutId, payouts, payoutsHash, signer);
    }

    /// @inheritdoc ISettlementVault
    function cancelPayouts(uint64 firstPayoutId, uint256 count) external {
        address sender = _msgSender();
        if (!hasRole(PAYER_ROLE, sender) && !hasRole(SIGNER_ROLE, sender)) revert UnauthorizedCanceller(sender);
        if (count == 0) revert ZeroAmount();
        _markProcessed(firstPayoutId, count);
        emit PayoutsCancelled(firstPayoutId, count, sender);
    }

    // ---------------------------------------------------------------- pull fallback

    /// @inheritdoc ISettlementVault
    function claim(address to) external whenNotPaused nonReentrant returns (uint256 amount) {
        if (to == address(0) || to == address(this)) revert InvalidRecipient(to);
        address seller = _msgSender();
        amount = _claimable[seller];
        if (amount == 0) revert NothingToClaim(seller);
        delete _claimable[seller];
        // Cannot underflow: _totalClaimable is the sum of all _claimable entries, this one included.
        unchecked {
            _totalClaimable -= amount;
        }
        emit Claimed(seller, to, amount);
        _token.safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------- administration

    /// @inheritdoc ISettlementVault
    function sweepExcess(address to, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (to == address(0) || to == address(this)) revert InvalidRecipient(to);
        if (amount == 0) revert ZeroAmount();
        uint256 available = excess();
        if (amount > available) revert ExcessExceeded(amount, available);
        emit ExcessSwept(to, amount);
        _token.safeTransfer(to, amount);
    }

    /// @inheritdoc ISettlementVault
    function rescueToken(
        IERC20 otherToken,
        address to,
        uint256 amount
    ) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (otherToken == _token) revert CannotRescueSettlementToken(address(otherToken));
        if (to == address(0) || to == address(this)) revert InvalidRecipient(to);
        emit TokenRescued(address(otherToken), to, amount);
        otherToken.safeTransfer(to, amount);
    }

    /// @inheritdoc ISettlementVault
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc ISettlementVault
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ISettlementVault
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc ISettlementVault
    function totalClaimable() external view returns (uint256) {
        return _totalClaimable;
    }

    /// @inheritdoc ISettlementVault
    function claimableOf(address seller) external view returns (uint256) {
        return _claimable[seller];
    }

    /// @inheritdoc ISettlementVault
    function excess() public view returns (uint256) {
        uint256 balance = _token.balanceOf(address(this));
        uint256 owed = _totalClaimable;
        // Saturates rather than reverting so that the view stays usable even if the token itself
        // took funds (e.g. an issuer seizure), a state the vault cannot prevent.
        return balance > owed ? balance - owed : 0;
    }

    /// @inheritdoc ISettlementVault
    function isPayoutProcessed(uint64 payoutId) external view returns (bool) {
        return (_processed[payoutId >> 8] >> (payoutId & 0xff)) & 1 == 1;
    }

    /// @inheritdoc ISettlementVault
    function processedBitmap(uint256 wordPos) external view returns (uint256) {
        return _processed[wordPos];
    }

    /// @inheritdoc ISettlementVault
    function hashPayoutBatch(
        uint64 batchId,
        uint64 firstPayoutId,
        uint256[] calldata payouts,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashPayoutBatch(batchId, firstPayoutId, payouts, deadline);
    }

    // ---------------------------------------------------------------- internals

    function _pull(address from, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        IERC20 token_ = _token;
        uint256 before = token_.balanceOf(address(this));
        token_.safeTransferFrom(from, address(this), amount);
        uint256 afterwards = token_.balanceOf(address(this));
        // Measured, not trusted: a fee-on-transfer or rebasing token would leave the books owing more
        // than the vault holds, so any difference is refused.
        if (afterwards != before + amount) {
            revert FeeOnTransferNotSupported(amount, afterwards > before ? afterwards - before : 0);
        }
        emit Funded(from, amount);
    }

    function _execute(
        uint64 batchId,
        uint64 firstPayoutId,
        uint256[] calldata payouts,
        bytes32 payoutsHash,
        address authorizedBy
    ) private {
        uint256 count = payouts.length;
        if (count == 0) revert EmptyPayoutBatch(batchId);
        _markProcessed(firstPayoutId, count);

        IERC20 token_ = _token;
        uint256 paidTotal;
        uint256 deferredTotal;
        for (uint256 i; i < count; ++i) {
            uint256 packed = payouts[i];
            address seller = address(uint160(packed >> 96));
            uint256 amount = packed & _AMOUNT_MASK;
            uint64 payoutId;
            // Cannot overflow: _markProcessed checked firstPayoutId + count - 1 <= type(uint64).max.
            unchecked {
                payoutId = firstPayoutId + uint64(i);
            }
            if (amount == 0 || seller == address(0) || seller == address(this)) {
                revert InvalidPayout(payoutId, seller, amount);
            }
            if (gasleft() < _MIN_GAS_BEFORE_TRANSFER) revert InsufficientGasForPayout(payoutId, gasleft());
            // Sums cannot overflow: each amount is < 2**96 and count is bounded by calldata size, far
            // below 2**160 items.
            if (_tryTransfer(token_, seller, amount)) {
                unchecked {
                    paidTotal += amount;
                }
            } else {
                _claimable[seller] += amount;
                unchecked {
                    deferredTotal += amount;
                }
                emit PayoutDeferred(batchId, payoutId, seller, amount);
            }
        }

        uint256 owed = _totalClaimable;
        if (deferredTotal != 0) {
            owed += deferredTotal;
            _totalClaimable = owed;
        }
        // The solvency invariant, checked after every batch: pushes may not eat into what is owed to
        // sellers with deferred payouts, and a deferral caused by an empty vault cannot create debt the
        // vault cannot cover.
        uint256 balance = token_.balanceOf(address(this));
        if (balance < owed) revert InsufficientVaultBalance(balance, owed);
        emit PayoutBatchExecuted(batchId, firstPayoutId, count, paidTotal, deferredTotal, payoutsHash, authorizedBy);
    }

    /// @dev Marks ids `first .. first + count - 1` processed, reverting if any already is. Touches each
    /// 256-id bitmap word once.
    function _markProcessed(uint64 first, uint256 count) private {
        // The last id, first + count - 1, must fit in uint64 (ids are uint64 everywhere else).
        if (count > uint256(type(uint64).max) - first + 1) revert PayoutIdOverflow(first, count);
        uint256 id = first;
        uint256 end = id + count; // cannot overflow: end <= 2**64 by the check above
        while (id < end) {
            uint256 bit = id & 0xff;
            uint256 span = Math.min(256 - bit, end - id);
            uint256 mask = span == 256 ? type(uint256).max : ((uint256(1) << span) - 1) << bit;
            uint256 wordPos = id >> 8;
            uint256 word = _processed[wordPos];
            uint256 clash = word & mask;
            if (clash != 0) {
                // clash & -clash isolates the lowest set bit: the first already-processed id.
                uint64 processedId;
                unchecked {
                    processedId = uint64((wordPos << 8) | Math.log2(clash & (0 - clash)));
                }
                revert PayoutAlreadyProcessed(processedId);
            }
            _processed[wordPos] = word | mask;
            id += span;
        }
    }

    function _hashPayoutBatch(
        uint64 batchId,
        uint64 firstPayoutId,
        uint256[] calldata payouts,
        uint256 deadline
    ) private view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(abi.encode(PAYOUT_BATCH_TYPEHASH, batchId, firstPayoutId, _hashPayouts(payouts), deadline))
            );
    }

    /// @dev keccak256(abi.encodePacked(payouts)), which is also how EIP-712 encodes a uint256[] member.
    /// Hashed in scratch memory past the free pointer, which is left unmoved: the memory is reused by
    /// later allocations instead of being expanded twice.
    function _hashPayouts(uint256[] calldata payouts) private pure returns (bytes32 result) {
        assembly ("memory-safe") {
            let fmp := mload(0x40)
            let size := shl(5, payouts.length)
            calldatacopy(fmp, payouts.offset, size)
            result := keccak256(fmp, size)
        }
    }

    /// @dev SafeERC20.trySafeTransfer semantics (success, and either `true` returned or no return data
    /// from a contract), but with the forwarded gas capped at PAYOUT_TRANSFER_GAS and at most 32 bytes
    /// of return data copied, so a recipient's hook can neither burn the batch's gas nor return-bomb it.
    function _tryTransfer(IERC20 token_, address to, uint256 value) private returns (bool success) {
        bytes4 selector = IERC20.transfer.selector;
        uint256 gasLimit = PAYOUT_TRANSFER_GAS;
        assembly ("memory-safe") {
            let fmp := mload(0x40)
            mstore(0x00, selector)
            mstore(0x04, and(to, shr(96, not(0))))
            mstore(0x24, value)
            success := call(gasLimit, token_, 0, 0x00, 0x44, 0x00, 0x20)
            if iszero(and(success, eq(mload(0x00), 1))) {
                success := and(success, and(iszero(returndatasize()), gt(extcodesize(token_), 0)))
            }
            mstore(0x40, fmp)
        }
    }
}
