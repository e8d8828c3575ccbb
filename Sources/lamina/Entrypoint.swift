import Commands

@main
enum Entrypoint {
    static func main() async { await Lamina.run() }
}
