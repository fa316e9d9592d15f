//! Which finger: libfprint's ten, named as fprintd names them.

use libfprint_rs::FpFinger;

/// Which finger (libfprint's names, kebab-case as fprintd spells them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finger {
    LeftThumb,
    LeftIndexFinger,
    LeftMiddleFinger,
    LeftRingFinger,
    LeftLittleFinger,
    RightThumb,
    RightIndexFinger,
    RightMiddleFinger,
    RightRingFinger,
    RightLittleFinger,
}

impl Finger {
    pub const ALL: [Finger; 10] = [
        Finger::LeftThumb,
        Finger::LeftIndexFinger,
        Finger::LeftMiddleFinger,
        Finger::LeftRingFinger,
        Finger::LeftLittleFinger,
        Finger::RightThumb,
        Finger::RightIndexFinger,
        Finger::RightMiddleFinger,
        Finger::RightRingFinger,
        Finger::RightLittleFinger,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Finger::LeftThumb => "left-thumb",
            Finger::LeftIndexFinger => "left-index-finger",
            Finger::LeftMiddleFinger => "left-middle-finger",
            Finger::LeftRingFinger => "left-ring-finger",
            Finger::LeftLittleFinger => "left-little-finger",
            Finger::RightThumb => "right-thumb",
            Finger::RightIndexFinger => "right-index-finger",
            Finger::RightMiddleFinger => "right-middle-finger",
            Finger::RightRingFinger => "right-ring-finger",
            Finger::RightLittleFinger => "right-little-finger",
        }
    }

    pub(crate) fn fp(self) -> FpFinger {
        match self {
            Finger::LeftThumb => FpFinger::LeftThumb,
            Finger::LeftIndexFinger => FpFinger::LeftIndex,
            Finger::LeftMiddleFinger => FpFinger::LeftMiddle,
            Finger::LeftRingFinger => FpFinger::LeftRing,
            Finger::LeftLittleFinger => FpFinger::LeftLittle,
            Finger::RightThumb => FpFinger::RightThumb,
            Finger::RightIndexFinger => FpFinger::RightIndex,
            Finger::RightMiddleFinger => FpFinger::RightMiddle,
            Finger::RightRingFinger => FpFinger::RightRing,
            Finger::RightLittleFinger => FpFinger::RightLittle,
        }
    }
}

impl std::str::FromStr for Finger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let want = s.trim().to_ascii_lowercase().replace('_', "-");
        Finger::ALL
            .into_iter()
            .find(|f| f.name() == want || f.name().trim_end_matches("-finger") == want)
            .ok_or_else(|| {
                format!(
                    "unknown finger {s:?}: one of {}",
                    Finger::ALL.map(Finger::name).join(", ")
                )
            })
    }
}
