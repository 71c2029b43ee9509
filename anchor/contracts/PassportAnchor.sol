// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title PassportAnchor
/// @notice Proof of existence for Digital Battery Passport credentials, in batches.
/// @dev dbp puts the Merkle root of a batch of credential digests (and lifecycle events) here in
///      one transaction. Each credential keeps its inclusion proof off chain; anyone can recompute
///      the root from a credential and its proof and read here when that root was first anchored.
///      Anchoring is open to every sender: a root only proves that its leaves existed at the time
///      of the block, whoever paid for it, and `Anchored.by` names the sender. A root is stored
///      once; anchoring it again reverts, so a transaction sent twice cannot anchor twice.
contract PassportAnchor {
    /// @notice A batch root was anchored at the current block's timestamp.
    event Anchored(bytes32 indexed root, bytes32 indexed batchId, uint32 leafCount, address indexed by);

    /// @notice The root is already anchored (at the given block timestamp).
    error AlreadyAnchored(bytes32 root, uint256 anchoredAt);
    /// @notice The zero root is not a Merkle root of anything.
    error ZeroRoot();
    /// @notice A batch holds at least one leaf.
    error EmptyBatch();

    mapping(bytes32 => uint256) private _anchoredAt;

    /// @notice Anchor the Merkle root of a batch of `leafCount` leaves, named `batchId` off chain.
    function anchor(bytes32 root, uint32 leafCount, bytes32 batchId) external {
        if (root == bytes32(0)) revert ZeroRoot();
        if (leafCount == 0) revert EmptyBatch();
        uint256 previous = _anchoredAt[root];
        if (previous != 0) revert AlreadyAnchored(root, previous);
        _anchoredAt[root] = block.timestamp;
        emit Anchored(root, batchId, leafCount, msg.sender);
    }

    /// @notice The timestamp of the block that anchored `root`, or 0 when it was never anchored.
    function anchoredAt(bytes32 root) external view returns (uint256) {
        return _anchoredAt[root];
    }
}
