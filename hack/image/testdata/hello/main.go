// Command hello is a stand-in for the controller in hack/image's test: a
// static program that builds in seconds.
package main

func main() { println("hello") }
