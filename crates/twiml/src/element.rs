//! The `element!` macro that declares a TwiML element: its attributes (each
//! with its TwiML name, type, Twilio default and the error code for an
//! invalid value) and its content. One declaration yields the struct, the
//! attribute reader and writer, accessors that apply Twilio's defaults, and
//! the list of attributes a document actually set.
//!
//! Attribute fields are `Option`s holding exactly what the document said,
//! so nothing is lost and the call router can refuse what it does not
//! support; the method of the same name gives the effective value.

use crate::error::TwimlError;

/// Reading attributes generically, for the validator.
pub(crate) trait ElementAttributes: Default {
    const ELEMENT: &'static str;
    /// Sets one attribute from its text. `Ok(false)` when the element has no
    /// such attribute.
    fn set_attribute(&mut self, name: &str, raw: &str) -> Result<bool, TwimlError>;
}

macro_rules! element {
    (
        $(#[$meta:meta])*
        pub struct $name:ident = $xml:literal {
            attributes {
                $(
                    $(#[$fmeta:meta])*
                    $field:ident : $ty:ty = $attr:literal, default [$($default:expr)?], code $code:expr;
                )*
            }
            content {
                $( $(#[$cmeta:meta])* $cfield:ident : $cty:ty ),* $(,)?
            }
        }
    ) => {
        $(#[$meta])*
        ///
        /// Attribute fields hold what the document set; the methods of the
        /// same name return the effective value with Twilio's default.
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[doc = concat!("\n\nTwiML attribute `", $attr, "`.")]
                pub $field: Option<$ty>,
            )*
            $( $(#[$cmeta])* pub $cfield: $cty, )*
        }

        impl $name {
            /// The element's name in TwiML.
            pub const ELEMENT: &'static str = $xml;
            /// Every attribute Twilio defines for this element, as written in TwiML.
            pub const ATTRIBUTES: &'static [&'static str] = &[$($attr),*];

            /// The attributes the document set on this element, by TwiML name.
            #[allow(unused_mut)]
            pub fn present_attributes(&self) -> Vec<&'static str> {
                let mut present = Vec::new();
                $( if self.$field.is_some() { present.push($attr); } )*
                present
            }

            #[allow(unused_mut)]
            pub(crate) fn attribute_nodes(
                &self,
            ) -> Vec<(std::borrow::Cow<'_, str>, crate::value::Scalar<'_>)> {
                let mut out = Vec::new();
                $(
                    if let Some(value) = &self.$field {
                        out.push((
                            std::borrow::Cow::Borrowed($attr),
                            crate::value::AttrValue::to_scalar(value),
                        ));
                    }
                )*
                out
            }

            $( element!(@accessor $field, $ty, $attr, [$($default)?]); )*
        }

        impl crate::element::ElementAttributes for $name {
            const ELEMENT: &'static str = $xml;

            #[allow(clippy::match_single_binding, unused_variables)]
            fn set_attribute(
                &mut self,
                name: &str,
                raw: &str,
            ) -> Result<bool, crate::error::TwimlError> {
                match name {
                    $(
                        $attr => {
                            let value = <$ty as crate::value::AttrValue>::parse(raw).map_err(
                                |expected| crate::error::TwimlError::InvalidAttribute {
                                    code: $code,
                                    element: $xml,
                                    attribute: $attr,
                                    value: raw.to_owned(),
                                    expected,
                                },
                            )?;
                            self.$field = Some(value);
                            Ok(true)
                        }
                    )*
                    _ => Ok(false),
                }
            }
        }

        #[cfg(test)]
        impl $name {
            /// Any valid combination of attributes, content left empty.
            #[allow(clippy::let_and_return)]
            pub(crate) fn arbitrary_attributes() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::strategy::Strategy;
                let strategy = proptest::strategy::Just(Self::default()).boxed();
                $(
                    let strategy = (
                        strategy,
                        proptest::option::of(
                            <$ty as crate::value::arbitrary::Arbitrary>::strategy(),
                        ),
                    )
                        .prop_map(|(mut element, value)| {
                            element.$field = value;
                            element
                        })
                        .boxed();
                )*
                strategy
            }
        }
    };

    (@accessor $field:ident, $ty:ty, $attr:literal, [$default:expr]) => {
        #[doc = concat!("Effective `", $attr, "`: the document's value, else `", stringify!($default), "`.")]
        pub fn $field(&self) -> $ty {
            match &self.$field {
                Some(value) => <$ty as Clone>::clone(value),
                None => $default,
            }
        }
    };

    (@accessor $field:ident, $ty:ty, $attr:literal, []) => {
        #[doc = concat!("`", $attr, "` if the document set it (Twilio has no default).")]
        pub fn $field(&self) -> Option<&$ty> {
            self.$field.as_ref()
        }
    };
}

pub(crate) use element;
