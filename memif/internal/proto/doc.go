// Package proto encodes and decodes the 128-byte memif control messages
// (HELLO, INIT, ACK, ADD_REGION, ADD_RING, CONNECT, CONNECTED, DISCONNECT).
// It is pure byte manipulation: no sockets, no descriptors.
//
// All integers are little-endian; strings are NUL-padded. The 24-byte
// secret may fill its field without a terminator.
package proto
