// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Receiver hook called by {MockHookToken} on every transfer to a contract.
interface ITokenReceiver {
    /// @notice Called after the balance moved; reverting rejects the transfer.
    /// @param from The sender.
    /// @param amount The amount received.
    function onTokenReceived(address from, uint256 amount) external;
}

/// @title MockHookToken (TEST ONLY)
/// @notice An ERC-20 that calls `onTokenReceived` on contract recipients (ERC-777/1363 style), so a
/// recipient contract can reject a payout, burn gas or try to re-enter the vault.
contract MockHookToken is ERC20 {
    constructor() ERC20("Hook Token", "HOOK") {}

    /// @notice Mints freely (test only).
    /// @param to The recipient.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != address(0) && to.code.length != 0) ITokenReceiver(to).onTokenReceived(from, value);
    }
}

/// @title MockRecipient (TEST ONLY)
/// @notice A seller contract whose hook accepts, rejects, burns all gas or re-enters a target.
contract MockRecipient is ITokenReceiver {
    /// @notice What the hook does.
    enum Mode {
        Accept,
        Reject,
        BurnGas,
        Reenter
    }

    /// @notice Thrown by the hook in Reject mode.
    error Rejected();

    /// @notice The current mode.
    Mode public mode;
    /// @notice The call made in Reenter mode.
    address public reenterTarget;
    /// @notice The calldata of the re-entrant call.
    bytes public reenterData;

    /// @notice Sets the mode.
    /// @param mode_ The mode.
    function setMode(Mode mode_) external {
        mode = mode_;
    }

    /// @notice Sets the re-entrant call.
    /// @param target The contract to call.
    /// @param data The calldata.
    function setReenter(address target, bytes calldata data) external {
        reenterTarget = target;
        reenterData = data;
    }

    /// @notice Forwards an arbitrary call (lets tests act as this contract, e.g. to claim).
    /// @param target The contract to call.
    /// @param data The calldata.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    /// @inheritdoc ITokenReceiver
    function onTokenReceived(address, uint256) external {
        Mode m = mode;
        if (m == Mode.Reject) revert Rejected();
        if (m == Mode.BurnGas) {
            // solhint-disable-next-line no-empty-blocks
            while (true) {}
        }
        if (m == Mode.Reenter) {
            (bool ok, bytes memory ret) = reenterTarget.call(reenterData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
    }
}
