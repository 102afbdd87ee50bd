//! The libraries the report knows by their packages: the JDK and the usual frameworks between
//! an application and its sockets. An object of none of them is the application's own, which
//! is what a person looks for on a path; a library's object says which machinery holds the bytes.

use serde::{Deserialize, Serialize};

/// A library whose classes are not the application's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Library {
    /// The JDK (`java.`, `javax.`, `jdk.`, `sun.`, `com.sun.`).
    Jdk,
    /// Netty (`io.netty.`).
    Netty,
    /// Lettuce, the Redis client (`io.lettuce.`; 4.x `com.lambdaworks.redis.`).
    Lettuce,
    /// Project Reactor and Reactor Netty (`reactor.`).
    Reactor,
    /// Redisson (`org.redisson.`).
    Redisson,
    /// gRPC Java (`io.grpc.`).
    Grpc,
    /// Vert.x (`io.vertx.`).
    Vertx,
    /// AsyncHttpClient (`org.asynchttpclient.`).
    AsyncHttpClient,
    /// The Kotlin runtime and coroutines (`kotlin.`, `kotlinx.`).
    Kotlin,
}

/// Package prefixes of each library, most specific first where they overlap.
const PACKAGES: &[(&str, Library)] = &[
    ("java.", Library::Jdk),
    ("javax.", Library::Jdk),
    ("jdk.", Library::Jdk),
    ("sun.", Library::Jdk),
    ("com.sun.", Library::Jdk),
    ("io.netty.", Library::Netty),
    ("io.lettuce.", Library::Lettuce),
    ("com.lambdaworks.redis.", Library::Lettuce),
    ("reactor.", Library::Reactor),
    ("org.redisson.", Library::Redisson),
    ("io.grpc.", Library::Grpc),
    ("io.vertx.", Library::Vertx),
    ("org.asynchttpclient.", Library::AsyncHttpClient),
    ("kotlin.", Library::Kotlin),
    ("kotlinx.", Library::Kotlin),
];

impl Library {
    /// The library a class belongs to; `None` for the application's own classes. Arrays
    /// belong to their element type's library, primitive arrays to the JDK.
    pub fn of(class: &str) -> Option<Library> {
        let element = class.trim_end_matches("[]");
        if element.len() != class.len() && !element.contains('.') {
            return Some(Library::Jdk); // int[], byte[][]
        }
        PACKAGES.iter().find(|(prefix, _)| element.starts_with(prefix)).map(|&(_, library)| library)
    }

    /// How people write the library's name.
    pub fn name(self) -> &'static str {
        match self {
            Library::Jdk => "the JDK",
            Library::Netty => "Netty",
            Library::Lettuce => "Lettuce",
            Library::Reactor => "Reactor",
            Library::Redisson => "Redisson",
            Library::Grpc => "gRPC",
            Library::Vertx => "Vert.x",
            Library::AsyncHttpClient => "AsyncHttpClient",
            Library::Kotlin => "Kotlin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Library;

    #[test]
    fn classes_by_package() {
        assert_eq!(Library::of("java.util.ArrayList"), Some(Library::Jdk));
        assert_eq!(Library::of("sun.nio.ch.Util$BufferCache"), Some(Library::Jdk));
        assert_eq!(Library::of("io.netty.channel.ChannelOutboundBuffer"), Some(Library::Netty));
        assert_eq!(Library::of("io.lettuce.core.protocol.CommandHandler"), Some(Library::Lettuce));
        assert_eq!(Library::of("reactor.netty.channel.FluxReceive"), Some(Library::Reactor));
        assert_eq!(Library::of("byte[]"), Some(Library::Jdk));
        assert_eq!(Library::of("java.lang.Object[][]"), Some(Library::Jdk));
        assert_eq!(Library::of("com.example.Cache[]"), None);
        assert_eq!(Library::of("OutboundPileup$RecordEncoder"), None);
        assert_eq!(Library::of("javafx.Foo"), None, "a prefix ends at a dot");
    }
}
