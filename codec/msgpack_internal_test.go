package codec

import "testing"

// checkValue's longest bounds the scratch buffer a pooled decoder keeps, so
// it must count every length-prefixed payload, wherever it is.
func TestCheckValueLongest(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want int64
	}{
		{"int", []byte{0x01}, 0},
		{"fixstr", []byte{0xa3, 'a', 'b', 'c'}, 0},
		{"str8", append([]byte{0xd9, 40}, make([]byte, 40)...), 40},
		{"str16", append([]byte{0xda, 0x01, 0x00}, make([]byte, 256)...), 256},
		{"str32", append([]byte{0xdb, 0, 0x01, 0x00, 0x01}, make([]byte, 65537)...), 65537},
		{"bin8", append([]byte{0xc4, 5}, make([]byte, 5)...), 5},
		{"bin16", append([]byte{0xc5, 0x01, 0x00}, make([]byte, 256)...), 256},
		{"bin32", append([]byte{0xc6, 0, 0x01, 0x00, 0x01}, make([]byte, 65537)...), 65537},
		{"ext8", append([]byte{0xc7, 3, 0x01}, make([]byte, 3)...), 3},
		{"ext16", append([]byte{0xc8, 0x01, 0x00, 0x01}, make([]byte, 256)...), 256},
		{"ext32", append([]byte{0xc9, 0, 0x01, 0x00, 0x01, 0x01}, make([]byte, 65537)...), 65537},
		{"fixext16", append([]byte{0xd8, 0x01}, make([]byte, 16)...), 0},
		{"longest of several, nested", append([]byte{0x92, 0xc4, 2, 0, 0, 0x81, 0xa1, 'k', 0x91, 0xd9, 50}, make([]byte, 50)...), 50},
	}
	for _, tt := range tests {
		got, err := checkValue(tt.data, DefaultMaxDepth)
		if err != nil || got != tt.want {
			t.Errorf("%s: checkValue = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
}
