// TODO -> https://github.com/mheese/rust-pkcs11
