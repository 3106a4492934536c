package main

import "strconv"

func itoa(n int) string       { return strconv.Itoa(n) }
func itoa64(n int64) string   { return strconv.FormatInt(n, 10) }
func itoa64u(n uint64) string { return strconv.FormatUint(n, 10) }
