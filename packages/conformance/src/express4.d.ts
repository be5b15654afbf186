// express@4 installed under an alias, to run the suite against both majors.
declare module 'express4' {
  import express from 'express'
  export default express
}
