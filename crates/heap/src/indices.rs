//! The numbers the model hands out for objects, each a type of its own: an object's number
//! passed where another kind of number is expected does not compile. Each is the `u32` it
//! wraps in memory, so a slice of them is as cheap as a slice of `u32`.

/// An object's number in the heap model: objects are numbered densely in address order, and
/// the number is the object's place in every per-object array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct ObjectIndex(u32);

impl ObjectIndex {
    /// The object numbered `index`.
    #[inline]
    pub const fn new(index: u32) -> ObjectIndex {
        ObjectIndex(index)
    }

    /// The number itself, as the model's `u32` arrays keep it.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The number as a position in a per-object array.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// For code generic over stored numbers (the dominator tree packs objects and preorder
/// numbers alike).
impl From<u32> for ObjectIndex {
    #[inline]
    fn from(index: u32) -> ObjectIndex {
        ObjectIndex(index)
    }
}

impl From<ObjectIndex> for u32 {
    #[inline]
    fn from(object: ObjectIndex) -> u32 {
        object.0
    }
}

/// A class's number in the heap model: its place in the model's class table (classes are
/// numbered in the order of their ids), and in every per-class array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct ClassIndex(u32);

impl ClassIndex {
    /// The class numbered `index`.
    #[inline]
    pub const fn new(index: u32) -> ClassIndex {
        ClassIndex(index)
    }

    /// The number itself, as the model's `u32` arrays keep it.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The number as a position in a per-class array.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}
