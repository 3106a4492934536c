package main

import (
	"bytes"
	"compress/lzw"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"

	"github.com/hashicorp/go-msgpack/codec"
)

// The helpers below restate memberlist 0.2.2's util.go and security.go (encode, makeCompoundMessage,
// compressPayload, encryptPayload) with a caller-chosen nonce so that the output is reproducible.

func encodeValue(v interface{}) []byte {
	var buf bytes.Buffer
	hd := codec.MsgpackHandle{}
	if err := codec.NewEncoder(&buf, &hd).Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func encodeMsg(t messageType, v interface{}) []byte {
	return append([]byte{byte(t)}, encodeValue(v)...)
}

func decodeInto(buf []byte, out interface{}) error {
	hd := codec.MsgpackHandle{}
	return codec.NewDecoder(bytes.NewReader(buf), &hd).Decode(out)
}

func makeCompound(msgs [][]byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte(byte(compoundMsg))
	buf.WriteByte(uint8(len(msgs)))
	for _, m := range msgs {
		binary.Write(&buf, binary.BigEndian, uint16(len(m)))
	}
	for _, m := range msgs {
		buf.Write(m)
	}
	return buf.Bytes()
}

func lzwCompress(inp []byte) []byte {
	var buf bytes.Buffer
	w := lzw.NewWriter(&buf, lzw.LSB, 8)
	if _, err := w.Write(inp); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func compressPayload(inp []byte) []byte {
	return encodeMsg(compressMsg, &compress{Algo: 0, Buf: lzwCompress(inp)})
}

func encryptPayload(vsn int, key, nonce, msg, aad []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	src := msg
	if vsn == 0 {
		more := 16 - len(msg)%16
		src = append(append([]byte{}, msg...), bytes.Repeat([]byte{byte(more)}, more)...)
	}
	out := []byte{byte(vsn)}
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, src, aad)
}

// encryptStream restates encryptLocalState: [10][u32 BE length][payload], the 5-byte header as AAD.
func encryptStream(key, nonce, msg []byte) []byte {
	header := make([]byte, 5)
	header[0] = byte(encryptMsg)
	binary.BigEndian.PutUint32(header[1:], uint32(1+12+len(msg)+16))
	return append(header, encryptPayload(1, key, nonce, msg, header)...)
}

// lcg is a tiny deterministic generator the Swift tests reproduce (see GoWireVectors.lcgBytes).
func lcg(seed uint32, n int) []byte {
	out := make([]byte, n)
	x := seed
	for i := range out {
		x = x*1103515245 + 12345
		out[i] = byte(x >> 16)
	}
	return out
}
