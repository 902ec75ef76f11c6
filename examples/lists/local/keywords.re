# RE2 patterns matched against the whole host name; each matches whole labels only so that
# innocent names (essex, sussex, therapist, scunthorpe) are not caught.
(^|\.)(suicide-?methods?|how-?to-?self-?harm)(\.|$)
(^|\.)(pro-?ana|thinspiration)(\.|$)
