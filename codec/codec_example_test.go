package codec_test

import (
	"fmt"
	"log"

	"github.com/mqrpc/mqrpc/codec"
)

// A struct is a msgpack map from field name to value, integers in their
// smallest form; generated argument structs are tagged as_array and travel
// as an array of their fields instead.
func ExampleMsgpack() {
	type Point struct {
		X, Y int
	}
	body, err := codec.Msgpack.Marshal(Point{X: 1, Y: 300})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", body)

	var p Point
	if err := codec.Msgpack.Unmarshal(body, &p); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", p)

	type addArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		A, B     int
	}
	body, err = codec.Msgpack.Marshal(addArgs{A: 2, B: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", body)
	// Output:
	// 82 a1 58 01 a1 59 cd 01 2c
	// {X:1 Y:300}
	// 92 02 03
}

// A server looks up the codec a request names; it knows msgpack and proto
// unless given more.
func ExampleRegistry_Lookup() {
	r := codec.NewRegistry()
	c, err := r.Lookup("msgpack")
	fmt.Println(c.Name(), err)
	_, err = r.Lookup("json")
	fmt.Println(err)
	// Output:
	// msgpack <nil>
	// codec "json" is not registered (have [msgpack proto])
}
