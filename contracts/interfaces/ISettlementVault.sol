// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ISettlementVault
/// @notice Holds a stablecoin funded by the platform treasury and pays sellers in batches.
/// Each payout carries a payout id that can be processed once only (a bitmap, 256 ids per slot).
/// A payout whose transfer fails (blocklisted seller, paused token, rejecting contract) does not
/// revert the batch: its amount becomes claimable by the seller (pull fallback).
/// Invariant: the vault's token balance always covers `totalClaimable()`; the admin may sweep only
/// the excess.
/// @dev A payout is packed in one uint256: `(uint256(uint160(seller)) << 96) | amount`, amount < 2**96.
/// Payout ids of a batch are the contiguous range `firstPayoutId .. firstPayoutId + payouts.length - 1`.
/// EIP-712 type of a signed batch (domain: name "Entrepot SettlementVault", version "1", chainId,
/// verifyingContract):
/// `PayoutBatch(uint64 batchId,uint64 firstPayoutId,uint256[] payouts,uint256 deadline)`.
interface ISettlementVault {
    /// @notice Thrown when the settlement token address is zero or has no code.
    /// @param token The rejected token.
    error InvalidToken(address token);

    /// @notice Thrown when an amount that must be positive is zero.
    error ZeroAmount();

    /// @notice Thrown when a recipient address is zero or the vault itself.
    /// @param to The rejected recipient.
    error InvalidRecipient(address to);

    /// @notice Thrown when the vault received a different amount than it pulled (fee-on-transfer token).
    /// @param expected The amount pulled.
    /// @param received The balance increase actually observed.
    error FeeOnTransferNotSupported(uint256 expected, uint256 received);

    /// @notice Thrown when a payout batch has no payouts.
    /// @param batchId The batch.
    error EmptyPayoutBatch(uint64 batchId);

    /// @notice Thrown when a payout's seller is zero or the vault, or its amount is zero.
    /// @param payoutId The offending payout id.
    /// @param seller The unpacked seller.
    /// @param amount The unpacked amount.
    error InvalidPayout(uint64 payoutId, address seller, uint256 amount);

    /// @notice Thrown when the payout id range does not fit in uint64.
    /// @param firstPayoutId The first id.
    /// @param count The number of payouts.
    error PayoutIdOverflow(uint64 firstPayoutId, uint256 count);

    /// @notice Thrown when a payout id was already paid, deferred or cancelled.
    /// @param payoutId The first already-processed id found in the range.
    error PayoutAlreadyProcessed(uint64 payoutId);

    /// @notice Thrown when, after a batch, the balance would not cover what the vault owes.
    /// @param balance The vault's token balance.
    /// @param owed The total claimable the balance must cover.
    error InsufficientVaultBalance(uint256 balance, uint256 owed);

    /// @notice Thrown before a payout's push transfer when the gas left could not cover the transfer's
    /// capped stipend: checked before the call, so a relayer cannot turn pushes into claimables by
    /// starving the token call.
    /// @param payoutId The payout whose transfer was about to be made.
    /// @param gasLeft The gas left at the check.
    error InsufficientGasForPayout(uint64 payoutId, uint256 gasLeft);

    /// @notice Thrown when a signed authorization is used after its deadline.
    /// @param deadline The signed deadline.
    /// @param timestamp The current block timestamp.
    error AuthorizationExpired(uint256 deadline, uint256 timestamp);

    /// @notice Thrown when a signature is malformed (wrong length, high s, bad v).
    error InvalidSignature();

    /// @notice Thrown when the recovered signer does not hold SIGNER_ROLE.
    /// @param signer The recovered address.
    error UnauthorizedSigner(address signer);

    /// @notice Thrown when the caller holds neither PAYER_ROLE nor SIGNER_ROLE (cancellation).
    /// @param account The caller.
    error UnauthorizedCanceller(address account);

    /// @notice Thrown when a seller claims with nothing claimable.
    /// @param seller The seller.
    error NothingToClaim(address seller);

    /// @notice Thrown when a sweep asks for more than the excess over what is owed.
    /// @param requested The amount requested.
    /// @param available The excess (`balance - totalClaimable`).
    error ExcessExceeded(uint256 requested, uint256 available);

    /// @notice Thrown when `rescueToken` targets the settlement token (use `sweepExcess`).
    /// @param token The settlement token.
    error CannotRescueSettlementToken(address token);

    /// @notice Emitted when the treasury (or anyone) funds the vault.
    /// @param from The account the tokens were pulled from.
    /// @param amount The amount received.
    event Funded(address indexed from, uint256 amount);

    /// @notice Emitted for each payout whose transfer failed and became claimable by the seller.
    /// @param batchId The payout batch.
    /// @param payoutId The payout id.
    /// @param seller The seller now owed the amount.
    /// @param amount The amount credited as claimable.
    event PayoutDeferred(uint64 indexed batchId, uint64 payoutId, address indexed seller, uint256 amount);

    /// @notice Emitted once per executed payout batch, after any `PayoutDeferred` events. Together with
    /// those it is the reconciliation record of every payout: payout `firstPayoutId + i` is
    /// `payouts[i]` of the batch whose keccak256 is `payoutsHash`; it was paid (the token's own
    /// `Transfer(vault, seller, amount)` log shows it) unless a `PayoutDeferred` names it.
    /// @dev No per-payout "paid" event: even the smallest (LOG1 + one word) costs ~1,000 gas per payout,
    /// and a batched ERC-20 transfer to a new holder already costs ~26,300 of the 27,000 per-recipient
    /// budget. The token's own `Transfer` log is the per-payout record of a paid payout.
    /// @param batchId The payout batch.
    /// @param firstPayoutId The first payout id of the contiguous range.
    /// @param count The number of payouts.
    /// @param paidTotal The sum transferred.
    /// @param deferredTotal The sum credited as claimable.
    /// @param payoutsHash `keccak256(abi.encodePacked(payouts))` (also the EIP-712 hash of the array).
    /// @param authorizedBy The PAYER_ROLE caller, or the SIGNER_ROLE signer of a relayed batch.
    event PayoutBatchExecuted(
        uint64 indexed batchId,
        uint64 firstPayoutId,
        uint256 count,
        uint256 paidTotal,
        uint256 deferredTotal,
        bytes32 payoutsHash,
        address indexed authorizedBy
    );

    /// @notice Emitted when a range of payout ids is voided before execution.
    /// @param firstPayoutId The first voided id.
    /// @param count The number of voided ids.
    /// @param by The canceller.
    event PayoutsCancelled(uint64 firstPayoutId, uint256 count, address indexed by);

    /// @notice Emitted when a seller claims deferred payouts.
    /// @param seller The seller.
    /// @param to The address that received the tokens.
    /// @param amount The amount claimed.
    event Claimed(address indexed seller, address indexed to, uint256 amount);

    /// @notice Emitted when the admin sweeps settlement tokens in excess of what is owed.
    /// @param to The recipient.
    /// @param amount The amount swept.
    event ExcessSwept(address indexed to, uint256 amount);

    /// @notice Emitted when the admin rescues another token sent to the vault by mistake.
    /// @param token The rescued token.
    /// @param to The recipient.
    /// @param amount The amount rescued.
    event TokenRescued(address indexed token, address indexed to, uint256 amount);

    /// @notice Pulls `amount` from the caller (needs an allowance). Refuses fee-on-transfer tokens.
    /// @param amount The amount to pull.
    function fund(uint256 amount) external;

    /// @notice Like `fund`, setting the allowance first with an EIP-2612 permit signed by the caller.
    /// @dev A permit front-run by someone else is tolerated when the allowance already suffices.
    /// @param amount The amount to pull (also the permit value).
    /// @param deadline The permit deadline.
    /// @param v The permit signature's v.
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    function fundWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Pays a batch of sellers. Callable by PAYER_ROLE when not paused.
    /// @param batchId The payout batch id (a reconciliation reference).
    /// @param firstPayoutId The id of `payouts[0]`; the batch uses ids `firstPayoutId + i`.
    /// @param payouts Packed payouts: `(uint256(uint160(seller)) << 96) | amount`.
    function payout(uint64 batchId, uint64 firstPayoutId, uint256[] calldata payouts) external;

    /// @notice Pays a batch authorized by an EIP-712 signature of a SIGNER_ROLE holder; anyone may relay.
    /// Replay is impossible: the payout ids are marked processed, the domain binds chain and contract,
    /// and the deadline bounds time.
    /// @param batchId The payout batch id.
    /// @param firstPayoutId The id of `payouts[0]`.
    /// @param payouts Packed payouts.
    /// @param deadline The last timestamp at which the authorization is valid.
    /// @param signature The 65-byte ECDSA signature (r, s, v) over the EIP-712 digest.
    function payoutWithSignature(
        uint64 batchId,
        uint64 firstPayoutId,
        uint256[] calldata payouts,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Voids a range of payout ids so that no batch (signed or not) can use them.
    /// Callable by PAYER_ROLE or SIGNER_ROLE.
    /// @param firstPayoutId The first id to void.
    /// @param count The number of ids (> 0); all must be unprocessed.
    function cancelPayouts(uint64 firstPayoutId, uint256 count) external;

    /// @notice Transfers everything claimable by the caller to `to` (which may differ from the
    /// caller, e.g. when the caller is blocklisted by the token). Reverts if the transfer fails.
    /// @param to The recipient.
    /// @return amount The amount claimed.
    function claim(address to) external returns (uint256 amount);

    /// @notice Sends settlement tokens in excess of what is owed. Callable by the admin only.
    /// @param to The recipient.
    /// @param amount The amount (<= `excess()`).
    function sweepExcess(address to, uint256 amount) external;

    /// @notice Sends another token held by mistake. Callable by the admin only.
    /// @param otherToken The token (must not be the settlement token).
    /// @param to The recipient.
    /// @param amount The amount.
    function rescueToken(IERC20 otherToken, address to, uint256 amount) external;

    /// @notice Pauses payouts and claims. Callable by PAUSER_ROLE (no admin key needed).
    function pause() external;

    /// @notice Unpauses. Callable by the admin only.
    function unpause() external;

    /// @notice The settlement token.
    function token() external view returns (IERC20);

    /// @notice The sum of all unpaid claimables (what the vault owes).
    function totalClaimable() external view returns (uint256);

    /// @notice What a seller can claim.
    /// @param seller The seller.
    function claimableOf(address seller) external view returns (uint256);

    /// @notice The settlement-token balance in excess of what is owed.
    function excess() external view returns (uint256);

    /// @notice Whether a payout id was paid, deferred or cancelled.
    /// @param payoutId The payout id.
    function isPayoutProcessed(uint64 payoutId) external view returns (bool);

    /// @notice A raw word of the processed bitmap: bit `i` is payout id `wordPos * 256 + i`.
    /// @param wordPos The word position (`payoutId >> 8`).
    function processedBitmap(uint256 wordPos) external view returns (uint256);

    /// @notice The EIP-712 digest a signer signs for a payout batch.
    /// @param batchId The payout batch id.
    /// @param firstPayoutId The first payout id.
    /// @param payouts Packed payouts.
    /// @param deadline The deadline.
    function hashPayoutBatch(
        uint64 batchId,
        uint64 firstPayoutId,
        uint256[] calldata payouts,
        uint256 deadline
    ) external view returns (bytes32);

    /// @notice The role allowed to push payout batches.
    function PAYER_ROLE() external view returns (bytes32);

    /// @notice The role whose EIP-712 signature authorizes a relayed payout batch.
    function SIGNER_ROLE() external view returns (bytes32);

    /// @notice The role allowed to pause.
    function PAUSER_ROLE() external view returns (bytes32);

    /// @notice The EIP-712 type hash of `PayoutBatch`.
    function PAYOUT_BATCH_TYPEHASH() external view returns (bytes32);
}
