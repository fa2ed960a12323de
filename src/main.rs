fn main() {
    println!("baton");
}
